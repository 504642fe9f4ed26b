"""Unit tests for importer.addresses: the address key, the fast validator and the typo detector."""

import random
import string
from collections.abc import Callable, Iterable

import email_validator
import pytest
from email_validator import EmailNotValidError, validate_email

from importer.addresses import (
    COMMON_PROVIDERS,
    AddressValidator,
    _one_edit_apart,
    address_key,
    likely_typo_of,
)

SEED = 20240611

# --- address_key ---------------------------------------------------------------------------------


def test_address_key_lower_cases_the_whole_address() -> None:
    assert address_key("Sanne.De.Vries@Example.nl") == "sanne.de.vries@example.nl"
    assert address_key("Jörg@müller.de") == "jörg@müller.de"
    assert address_key("ÉLODIE@exemple.fr") == "élodie@exemple.fr"


def test_address_key_makes_case_variants_of_one_inbox_equal() -> None:
    validator = AddressValidator()
    variants = ["sanne@example.nl", "Sanne@Example.NL", "SANNE@EXAMPLE.NL"]
    assert len({address_key(validator.normalize(v)) for v in variants}) == 1
    assert address_key(validator.normalize("sanne@example.nl")) != address_key(
        validator.normalize("sanne2@example.nl")
    )


# --- the corpus ----------------------------------------------------------------------------------

# fmt: off
ATEXT_SPECIALS = "!#$%&'*+-/=?^_`{|}~"
VALID_DOMAINS = [
    "example.nl", "Example.NL", "GMAIL.COM", "gmail.com", "hotmail.com", "sub.domain.co.uk",
    "a-b.c-d.example.org", "x.io", "123.example.com", "mail.example.museum", "EXAMPLE.com",
    "xn--mller-kva.de", "XN--MLLER-KVA.DE", "xn--bcher-kva.example", "example.xn--p1ai",
    "müller.de", "MÜLLER.DE", "bücher.example", "пример.рф", "例え.テスト.jp", "δοκιμή.gr",
    "example\u3002com", "ｅｘａｍｐｌｅ．ｃｏｍ", "a" * 63 + ".com", ".".join(["abcdefghi"] * 25) + ".com",
]
INVALID_DOMAINS = [
    "", "localhost", "com", "example", "example.local", "foo.test", "test", "a.invalid", "x.onion",
    "1.in-addr.arpa", "example.123", "1.2.3.4", "-abc.com", "abc-.com", "ab--cd.com", "a.-b.com",
    "my_domain.com", "example.com.", ".example.com", "example..com", "exa mple.com", "a" * 64 + ".com",
    ".".join(["abcdefghi"] * 26) + ".com", "xn--abc.com", "xn--zz.com", "xn--a.com", "example.c",
    "exam!ple.com", "example.com\u200b", "ex\u00adample.com", "⒈.com", "example.c\u0301om",
    "[127.0.0.1]", "[IPv6:::1]", "[ipv6:2001:db8::1]", "[300.1.1.1]", "[foo]", "[IPv6:fe80::1%eth0]",
    "[x:y]", "example.com]", "\u05d0.1.com", "xn--4dbc.1.com",
]
VALID_LOCALS = [
    "jan", "Jan.de.Vries", "j.d.vries+news", "SANNE", "info", "INFO", "Postmaster", "WebMaster",
    "a", "user_name", "first-last", "o'brien", "x!#$%&'*+-/=?^_`{|}~y", "1234567890",
    "jörg", "Jörg", "用户", "δοκιμή", "e\u0301lodie", "ÉLODIE", "a" * 64, "b" * 65,
]
INVALID_LOCALS = [
    "", ".jan", "jan.", "j..an", "a b", "a,b", "a(b)", "a:b", "a;b", "a\\b", "a>b", "a]b",
    "\u0301a", "a\u200bb", "a\u202eb", "a\x00b", "a\tb", "a\u3000b",
]
QUOTED_LOCALS = [
    '"jan"', '"john doe"', '"a@b"', '"a\\"b"', '"a\\\\b"', '""', '"a"b', '"jörg"', '"a\tb"',
    '"a\x7fb"', '"unfinished',
]
WHOLE_ADDRESSES = [
    "", "@", "a@", "@b.nl", "plain", "a@b@c.nl", "a@@b.nl", "a＠b.nl", "a﹫b.nl", " jan@example.nl",
    "jan@example.nl ", "jan @example.nl", "jan@ example.nl", "\tjan@example.nl\n",
    "Jan <jan@example.nl>", "<jan@example.nl>", '"Jan de Vries" <jan@example.nl>', "Jan <jan@example.nl",
    "Jan <jan@example.nl> x", "a<b@c.nl", "jan@<example.nl>", "jan\u0338@example.nl", "jan@\u0338example.nl",
    "<\u0338jan@example.nl", "a@b.nl\u0000", "x" * 200 + "@" + "y" * 60 + ".nl",
]
MUTATION_CHARS = (
    string.ascii_letters + string.digits + ".@-_+ \"<>[]\\,;:()\t" + "äéßø\u0301\u200b\u00a0用ü。．＠"
)
# fmt: on


def _local(rng: random.Random) -> str:
    """Make a random dot-atom local part, sometimes with specials or upper case."""
    alphabet = string.ascii_lowercase + string.digits
    if rng.random() < 0.2:
        alphabet += ATEXT_SPECIALS
    if rng.random() < 0.2:
        alphabet += string.ascii_uppercase
    words = ["".join(rng.choices(alphabet, k=rng.randint(1, 10))) for _ in range(rng.randint(1, 3))]
    return ".".join(words)


def _domain(rng: random.Random) -> str:
    """Make a random, usually valid, ASCII domain."""
    labels = [
        "".join(rng.choices(string.ascii_lowercase + string.digits, k=rng.randint(1, 12)))
        for _ in range(rng.randint(1, 3))
    ]
    top = rng.choice(["nl", "com", "be", "de", "org", "co.uk", "Nl", "COM", "local", "test", "1", "x"])
    return ".".join(labels) + "." + top


def _mutate(rng: random.Random, address: str) -> str:
    """Insert, delete, duplicate or re-case one character of an address."""
    if not address:
        return rng.choice(MUTATION_CHARS)
    i = rng.randrange(len(address))
    match rng.randrange(4):
        case 0:
            return address[:i] + rng.choice(MUTATION_CHARS) + address[i:]
        case 1:
            return address[:i] + address[i + 1 :]
        case 2:
            return address[:i] + address[i] * 2 + address[i + 1 :]
        case _:
            return address[:i] + address[i].swapcase() + address[i + 1 :]


def make_corpus(seed: int = SEED, size: int = 6000) -> list[str]:
    """Make a reproducible mix of valid, unusual and invalid addresses."""
    rng = random.Random(seed)
    corpus = list(WHOLE_ADDRESSES)
    all_locals = VALID_LOCALS + INVALID_LOCALS + QUOTED_LOCALS
    all_domains = VALID_DOMAINS + INVALID_DOMAINS
    corpus += [f"{local}@{domain}" for local in all_locals for domain in all_domains]
    shared_domains = [_domain(rng) for _ in range(150)]
    while len(corpus) < size:
        kind = rng.random()
        if kind < 0.45:
            # Many addresses on a few domains: the cache answers for most of them.
            address = f"{_local(rng)}@{rng.choice(shared_domains)}"
        elif kind < 0.6:
            address = f"{_local(rng)}@{_domain(rng)}"
        elif kind < 0.7:
            address = f"{rng.choice(all_locals)}@{rng.choice(all_domains)}"
        else:
            address = f"{_local(rng)}@{rng.choice(shared_domains + all_domains)}"
            for _ in range(rng.randint(1, 2)):
                address = _mutate(rng, address)
        if rng.random() < 0.05:
            # Lengths around the 254-byte limit on the whole address.
            local, _, domain = address.rpartition("@")
            address = local + "x" * rng.randint(200 - len(domain), 260 - len(domain)) + "@" + domain
        corpus.append(address)
    return corpus


def outcome(normalize: Callable[[str], str], address: str) -> tuple[str, str]:
    """Return ("ok", normalized) or (error class name, message) for one address."""
    try:
        return "ok", normalize(address)
    except EmailNotValidError as error:
        return type(error).__name__, str(error)


def reference(address: str) -> str:
    return validate_email(address, check_deliverability=False).normalized


def mismatches(validator: AddressValidator, addresses: Iterable[str]) -> list[tuple[str, object, object]]:
    found = []
    for address in addresses:
        expected, actual = outcome(reference, address), outcome(validator.normalize, address)
        if expected != actual:
            found.append((address, expected, actual))
    return found


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return make_corpus()


# --- AddressValidator ----------------------------------------------------------------------------


def test_corpus_is_large_and_mixed(corpus: list[str]) -> None:
    outcomes = [outcome(reference, address)[0] for address in corpus]
    assert len(corpus) >= 5000
    assert outcomes.count("ok") > 1000
    assert len(corpus) - outcomes.count("ok") > 1000


def test_validator_matches_validate_email_on_the_corpus(corpus: list[str]) -> None:
    assert mismatches(AddressValidator(), corpus)[:5] == []


def test_validator_matches_validate_email_in_another_order(corpus: list[str]) -> None:
    # A cache filled in a different order must not change any answer.
    shuffled = list(corpus)
    random.Random(SEED + 1).shuffle(shuffled)
    assert mismatches(AddressValidator(), shuffled)[:5] == []


@pytest.mark.parametrize(
    "address",
    [
        "jan@Example.NL",
        "INFO@example.nl",
        "Jörg@Müller.de",
        "x@xn--mller-kva.de",
        '"jan"@example.nl',
        "jan@[127.0.0.1]",
        " jan@example.nl",
        "Jan <jan@example.nl>",
        "a@b@example.nl",
        "jan..x@example.nl",
        "jan@example.local",
        "jan@example",
        "e\u0301lodie@example.fr",
    ],
)
def test_validator_matches_validate_email_on_named_cases(address: str) -> None:
    assert outcome(AddressValidator().normalize, address) == outcome(reference, address)


def test_cache_checks_each_domain_once_but_every_local_part_and_length() -> None:
    validator = AddressValidator()
    good, bad = "Example.NL", "example.local"
    addresses = [
        f"jan@{good}",
        f"INFO@{good}",  # case-insensitive mailbox name, lower-cased by the library
        f"jan..x@{good}",  # bad local part on a cached good domain
        "x" * 250 + f"@{good}",  # too long as a whole on a cached good domain
        f"piet@{good}",
        f"jan@{bad}",
        f".jan@{bad}",  # the local part's error comes first, also when the domain's is cached
        f"piet@{bad}",
        f"klaas@{bad}",
    ]
    assert mismatches(validator, addresses) == []
    assert validator.normalize(f"piet@{good}") == "piet@example.nl"
    assert validator.normalize(f"INFO@{good}") == "info@example.nl"
    assert set(validator._domains) == {good, bad}


def test_cache_respects_the_length_of_idn_domains() -> None:
    # The normalized (Unicode) domain is longer in UTF-8 than its Punycode: the length check must
    # see the normalized form even when the domain came from the cache.
    domain = "xn--l8jaaaaaaaaaaaaaaaaaaa.jp"  # twenty times "あ": 29 ASCII bytes, 63 bytes in UTF-8
    validator = AddressValidator()
    kinds = set()
    for local_length in range(180, 235):
        address = "x" * local_length + "@" + domain
        expected = outcome(reference, address)
        assert outcome(validator.normalize, address) == expected, address
        kinds.add(expected[1].split(" (")[0] if expected[0] != "ok" else "ok")
    # The range covers valid addresses, those too long only after normalization, and longer ones.
    assert kinds == {
        "ok",
        "The email address is too long after normalization",
        "The email address is too long",
    }


def test_validator_follows_the_library_defaults_it_was_made_with(monkeypatch: pytest.MonkeyPatch) -> None:
    # The library's docs suggest email_validator.TEST_ENVIRONMENT = True in test suites; a validator
    # made under that setting must agree with validate_email, whose cache must not leak to others.
    addresses = ["jan@test", "jan@foo.test", "jan@Foo.TEST", "jan@example.nl"]
    strict_validator = AddressValidator()
    monkeypatch.setattr(email_validator, "TEST_ENVIRONMENT", True)
    assert mismatches(AddressValidator(), addresses) == []
    assert AddressValidator().normalize("jan@Foo.TEST") == "jan@foo.test"
    monkeypatch.undo()
    assert mismatches(strict_validator, addresses) == []
    with pytest.raises(EmailNotValidError):
        strict_validator.normalize("jan@foo.test")


def test_errors_are_email_not_valid_errors() -> None:
    validator = AddressValidator()
    for address in ["jan@example", "jan@", '"jan"@example.nl', "a b@example.nl"]:
        with pytest.raises(EmailNotValidError):
            validator.normalize(address)


# --- likely_typo_of ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "provider"),
    [
        ("gamil.com", "gmail.com"),
        ("gmial.com", "gmail.com"),
        ("hotmial.com", "hotmail.com"),
        ("gmai.com", "gmail.com"),
        ("gmaill.com", "gmail.com"),
        ("gnail.com", "gmail.com"),
        ("gmail.con", "gmail.com"),
        ("gmail.co", "gmail.com"),
        ("gmail.cm", "gmail.com"),
        ("gmailc.om", "gmail.com"),
        ("hotmail.cm", "hotmail.com"),
        ("hotmai.nl", "hotmail.nl"),
        ("outlok.com", "outlook.com"),
        ("yahooo.com", "yahoo.com"),
        ("icloud.co", "icloud.com"),
        ("zigo.nl", "ziggo.nl"),
        ("ziggo.n", "ziggo.nl"),
        ("kpnmial.nl", "kpnmail.nl"),
        ("telenet.b", "telenet.be"),
        ("xs4al.nl", "xs4all.nl"),
        ("protonmail.co", "protonmail.com"),
        ("gmx.ne", "gmx.net"),
        ("web.dee", "web.de"),
        ("live.con", "live.com"),
    ],
)
def test_likely_typo_of_finds_typos(domain: str, provider: str) -> None:
    assert likely_typo_of(domain) == provider


@pytest.mark.parametrize(
    "domain",
    [
        *COMMON_PROVIDERS,
        "ee.com",  # one letter from me.com, but names this short are left alone
        "mee.com",
        "ms.com",
        "gmx.com",
        "live.fr",
        "home.be",  # another country's domain, not a slip of home.nl
        "hotmail.es",
        "yahoo.co.jp",
        "example.nl",
        "bedrijf.nl",
        "gmail.co.uk",
        "mijnbedrijf.be",
        "vandenberg.de",
    ],
)
def test_likely_typo_of_leaves_real_domains_alone(domain: str) -> None:
    assert likely_typo_of(domain) is None


def test_close_providers_are_not_typos_of_each_other() -> None:
    for provider in COMMON_PROVIDERS:
        assert likely_typo_of(provider) is None
    assert _one_edit_apart("live.nl", "live.be") is False
    assert _one_edit_apart("gmail.com", "mail.com") is True  # so mail.com must be listed, and is
    assert "mail.com" in COMMON_PROVIDERS


def _reference_distance(a: str, b: str) -> int:
    """Compute the optimal-string-alignment distance with the textbook table."""
    table = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            table[i][j] = min(
                table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + (a[i - 1] != b[j - 1])
            )
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
    return table[len(a)][len(b)]


def test_one_edit_apart_agrees_with_the_textbook_distance() -> None:
    rng = random.Random(SEED)

    def word() -> str:
        return "".join(rng.choices("abc.", k=rng.randint(0, 6)))

    pairs = [(word(), word()) for _ in range(5000)]
    pairs += [("gmail.com", "gamil.com"), ("ab", "ba"), ("abc", "ca"), ("", "a"), ("a", "a")]
    disagreements = [(a, b) for a, b in pairs if _one_edit_apart(a, b) != (_reference_distance(a, b) == 1)]
    assert disagreements == []
    assert sum(_one_edit_apart(a, b) for a, b in pairs) > 100  # the pairs do include hits


# --- the fast paths of issue 14: plain domains and typos by length --------------------------------


def _plain_looking_domains(rng: random.Random, count: int) -> list[str]:
    """Domains of ASCII letters, digits, hyphens and dots, mostly well formed, some not."""
    domains = []
    for _ in range(count):
        labels = ["".join(rng.choices("abcXYZ019-", k=rng.choice((0, 1, 2, 5, 12, 62, 63, 64))))
                  for _ in range(rng.randint(1, 4))]
        labels[-1] = rng.choice((labels[-1], "nl", "COM", "c0", "test", "local", "arpa", "xn--p1ai"))
        domains.append(".".join(labels))
    return domains


def test_plain_domain_fast_path_gives_the_librarys_verdict_and_normal_form() -> None:
    from email_validator.syntax import validate_email_domain_name

    rng = random.Random(SEED + 14)
    domains = VALID_DOMAINS + INVALID_DOMAINS + _plain_looking_domains(rng, 20000)
    domains += [".".join(["a" * 63] * 3) + "." + "b" * 61, ".".join(["a" * 63] * 3) + "." + "b" * 62]
    validator = AddressValidator()
    fast = 0
    for domain in domains:
        plain = validator._plain_domain(domain)
        if plain is None:
            continue
        fast += 1
        assert validate_email_domain_name(domain) == {"ascii_domain": plain, "domain": plain}, domain
    assert fast > 1000  # the fast path is taken (and declines the rest: checked by the corpus tests)
    assert validator._plain_domain("Bouw-Groep12.CO.UK") == "bouw-groep12.co.uk"
    for declined in ("ab--cd.com", "xn--mller-kva.de", "foo.test", "x.local", "a.123", "a" * 64 + ".nl"):
        assert validator._plain_domain(declined) is None


def _typo_of_every_provider(domain: str) -> str | None:
    """likely_typo_of as it was: every provider compared, none left out by length."""
    from importer.addresses import _MIN_NAME_FOR_FUZZY_MATCH, _PROVIDER_SET

    if domain in _PROVIDER_SET:
        return None
    name, _, top = domain.partition(".")
    for provider in COMMON_PROVIDERS:
        provider_name, _, provider_top = provider.partition(".")
        if name == provider_name:
            if len(top) == len(provider_top) == 2:
                continue
            if _one_edit_apart(top, provider_top):
                return provider
        elif len(name) >= _MIN_NAME_FOR_FUZZY_MATCH and _one_edit_apart(domain, provider):
            return provider
    return None


def test_likely_typo_of_agrees_with_comparing_every_provider() -> None:
    rng = random.Random(SEED + 15)
    letters = string.ascii_lowercase + ".-0"
    domains = []
    for provider in COMMON_PROVIDERS:
        for _ in range(40):  # one or two edits of each provider, and a few random domains
            word = list(provider)
            for _ in range(rng.randint(1, 2)):
                at = rng.randrange(len(word))
                edit = rng.choice(("drop", "add", "swap", "change"))
                if edit == "drop" and len(word) > 1:
                    del word[at]
                elif edit == "add":
                    word.insert(at, rng.choice(letters))
                elif edit == "swap" and at + 1 < len(word):
                    word[at], word[at + 1] = word[at + 1], word[at]
                else:
                    word[at] = rng.choice(letters)
            domains.append("".join(word))
    domains += ["".join(rng.choices(letters, k=rng.randint(1, 20))) for _ in range(2000)]
    assert [likely_typo_of(d) for d in domains] == [_typo_of_every_provider(d) for d in domains]
    assert sum(likely_typo_of(d) is not None for d in domains) > 500
