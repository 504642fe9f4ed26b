"""Address keys, fast address validation and provider-typo detection.

Plain Python: no Flask, no database, and never a DNS lookup.
"""

import hashlib
import hmac
import re
from functools import partial

import email_validator
from email_validator import EmailNotValidError, EmailSyntaxError, ValidatedEmail, validate_email
from email_validator.rfc_constants import (
    CASE_INSENSITIVE_MAILBOX_NAMES,
    DOMAIN_MAX_LENGTH,
    DOMAIN_NAME_REGEX,
    DOT_ATOM_TEXT,
    EMAIL_MAX_LENGTH,
    LOCAL_PART_MAX_LENGTH,
)
from email_validator.syntax import (
    validate_email_domain_name,
    validate_email_length,
    validate_email_local_part,
)

from importer.said import Said, foreign, said

__all__ = ["COMMON_PROVIDERS", "AddressValidator", "address_key", "erased_address_hash", "likely_typo_of"]


def address_key(normalized_email: str) -> str:
    """Return the comparison key of a normalized address: the whole address lower-cased.

    This is THE one function that decides whether two addresses are the same inbox; everything
    that compares addresses (import matching, the database constraint, collapse, the pre-send
    check, a segment rule's value on `email` or `email_domain`, which may be a part of an address)
    must use it rather than comparing or lower-casing addresses itself.
    """
    return normalized_email.lower()


def erased_address_hash(salt: str, account_id: int, key: str) -> str:
    """The one-way, salted hash that an erased person's address key is kept as (64 hex digits).

    Keyed by the account too, so that one account's erasures say nothing about another's.
    """
    message = f"{account_id}:{key}".encode()
    return hmac.new(salt.encode(), message, hashlib.sha256).hexdigest()


# Quotes, display names and domain literals change how the library splits an address; white space
# is rare in trimmed cells. Addresses with any of them go to validate_email itself.
_NEEDS_FULL_PARSE = re.compile(r'[\s"<\[]')
_CASE_INSENSITIVE_MAILBOX_NAMES = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)

# A plain host name, lower-cased: letters, digits and inner hyphens in labels of 1-63 characters,
# at least two labels. The library's checks all pass such a name, and its normal form is the name
# itself; names with "--" (Punycode, R-LDH labels) or outside this shape go to the library.
_PLAIN_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")

# A validated domain: its normalized (possibly Unicode) form, its ASCII form, and how many bytes
# longer than the input domain its longest form is. A rejected domain: the library's message.
_DomainResult = tuple[str, str, int] | str


class AddressValidator:
    """Validate and normalize addresses exactly like email-validator, checking each domain once.

    For every string, `normalize` returns what `validate_email(address, check_deliverability=False)`
    returns as `.normalized`, or raises an `EmailNotValidError` with the same message. Plain ASCII
    addresses with one "@" are split here and checked with the library's own functions, with the
    domain verdict cached; everything else goes to `validate_email` itself. The library's module-level
    defaults are read once, when the validator is made, because the cache is only valid for one set of
    options. The cache grows with the distinct domains seen: use one validator per import.
    """

    def __init__(self) -> None:
        ev = email_validator
        self._validate_email = partial(
            validate_email,
            check_deliverability=False,
            allow_smtputf8=ev.ALLOW_SMTPUTF8,
            allow_empty_local=ev.ALLOW_EMPTY_LOCAL,
            allow_quoted_local=ev.ALLOW_QUOTED_LOCAL,
            allow_domain_literal=ev.ALLOW_DOMAIN_LITERAL,
            allow_display_name=ev.ALLOW_DISPLAY_NAME,
            strict=ev.STRICT,
            test_environment=ev.TEST_ENVIRONMENT,
            globally_deliverable=ev.GLOBALLY_DELIVERABLE,
        )
        self._validate_local_part = partial(
            validate_email_local_part,
            allow_smtputf8=ev.ALLOW_SMTPUTF8,
            allow_empty_local=ev.ALLOW_EMPTY_LOCAL,
            quoted_local_part=False,
            strict=ev.STRICT,
        )
        self._validate_domain = partial(
            validate_email_domain_name,
            test_environment=ev.TEST_ENVIRONMENT,
            globally_deliverable=ev.GLOBALLY_DELIVERABLE,
        )
        self._domains: dict[str, _DomainResult] = {}
        self._strict = ev.STRICT
        # The special-use names the library refuses, with the same exception it makes for "test".
        self._special_use = tuple(d for d in ev.SPECIAL_USE_DOMAIN_NAMES
                                  if not (d == "test" and ev.TEST_ENVIRONMENT))
        self._special_suffixes = tuple("." + d for d in self._special_use)

    def normalize(self, address: str) -> str:
        """Return the normalized address or raise the library's `EmailNotValidError`."""
        if (
            not isinstance(address, str)
            or not address.isascii()
            or address.count("@") != 1
            or _NEEDS_FULL_PARSE.search(address)
        ):
            return self._validate_fully(address)
        local, _, domain_part = address.partition("@")
        if not domain_part:
            # validate_email words this error itself; let it.
            return self._validate_fully(address)

        # The library's order of checks: local part first, then the domain, then the whole length.
        # The local part is ASCII, so its Unicode normalization (NFC) is a no-op and is skipped.
        # The library's own first test, without its call: a dot-atom local part comes back as it is.
        if (not local or (self._strict and len(local) > LOCAL_PART_MAX_LENGTH)
                or not DOT_ATOM_TEXT.match(local)):
            local = self._validate_local_part(local)["local_part"]
        if local.lower() in _CASE_INSENSITIVE_MAILBOX_NAMES:
            local = local.lower()

        domain_result = self._domains.get(domain_part)
        if domain_result is None:
            domain_result = self._domains[domain_part] = self._check_domain(domain_part)
        if isinstance(domain_result, str):
            raise EmailSyntaxError(domain_result)
        domain, ascii_domain, growth = domain_result

        normalized = local + "@" + domain
        # The library checks the byte length of the input, the normalized address and the IDNA
        # ASCII form. None can exceed len(address) + growth (the local part keeps its length), so
        # the library's check, which words the error, only runs when the limit is within reach.
        if len(address) + growth > EMAIL_MAX_LENGTH:
            info = ValidatedEmail()
            info.original = address
            info.normalized = normalized
            info.local_part = info.ascii_local_part = local
            info.ascii_domain = ascii_domain
            validate_email_length(info)
        return normalized

    def _check_domain(self, domain_part: str) -> _DomainResult:
        """Validate one domain with the library's function; return its forms or its error message."""
        plain = self._plain_domain(domain_part)
        if plain is not None:
            return plain, plain, 0
        try:
            info = self._validate_domain(domain_part)
        except EmailSyntaxError as error:
            return str(error)
        domain, ascii_domain = info["domain"], info["ascii_domain"]
        growth = max(len(domain.encode("utf-8")), len(ascii_domain)) - len(domain_part)
        return domain, ascii_domain, max(growth, 0)

    def _plain_domain(self, domain_part: str) -> str | None:
        """The normal form of an ASCII domain that the library is sure to accept unchanged but for
        case, or None (then the library decides). A business list has tens of thousands of domains,
        and the library takes about 90 µs for each (its Unicode checks go character by character)."""
        if len(domain_part) > DOMAIN_MAX_LENGTH:
            return None
        domain = domain_part.lower()  # what UTS-46 remapping does to ASCII letters
        if (_PLAIN_DOMAIN.fullmatch(domain) is None or "--" in domain
                or not DOMAIN_NAME_REGEX.search(domain)  # the top-level domain ends in a letter
                or domain in self._special_use or domain.endswith(self._special_suffixes)):
            return None
        return domain

    def _validate_fully(self, address: str) -> str:
        """Validate with validate_email itself, for everything the fast path does not cover."""
        return self._validate_email(address).normalized


# Common consumer mail domains: international ones, then Dutch, Belgian and German ones. Distinct
# real domains that are close to each other (live.nl / live.be, me.com / mac.com, mail.com /
# gmail.com) must all be listed, so that neither is reported as a typo of the other.
# fmt: off
COMMON_PROVIDERS: tuple[str, ...] = (
    "gmail.com", "googlemail.com",
    "hotmail.com", "hotmail.nl", "hotmail.be", "hotmail.de", "hotmail.co.uk", "hotmail.fr",
    "outlook.com", "outlook.nl", "outlook.be", "outlook.de",
    "live.com", "live.nl", "live.be", "live.de", "msn.com",
    "yahoo.com", "yahoo.co.uk", "yahoo.de", "yahoo.fr", "ymail.com", "rocketmail.com",
    "icloud.com", "me.com", "mac.com",
    "aol.com", "aol.de", "mail.com", "email.com", "proton.me", "protonmail.com", "pm.me",
    # The Netherlands
    "ziggo.nl", "kpnmail.nl", "kpnplanet.nl", "planet.nl", "home.nl", "hetnet.nl", "xs4all.nl",
    "casema.nl", "chello.nl", "upcmail.nl", "quicknet.nl", "zeelandnet.nl", "tele2.nl", "online.nl",
    "telfort.nl", "caiway.nl", "solcon.nl", "zonnet.nl",
    # Belgium
    "telenet.be", "skynet.be", "proximus.be", "scarlet.be", "pandora.be",
    # Germany
    "gmx.de", "gmx.net", "gmx.at", "gmx.ch", "web.de", "t-online.de", "freenet.de", "posteo.de",
    "arcor.de", "online.de",
)
# fmt: on
_PROVIDER_SET = frozenset(COMMON_PROVIDERS)

# The providers (in COMMON_PROVIDERS order) whose length is within one of a given length.
_PROVIDERS_NEAR_LENGTH: dict[int, tuple[str, ...]] = {
    length: tuple(p for p in COMMON_PROVIDERS if abs(len(p) - length) <= 1)
    for length in range(min(map(len, COMMON_PROVIDERS)) - 1, max(map(len, COMMON_PROVIDERS)) + 2)
}

# Names shorter than this are too dense to guess at: "ee.com" is one letter from "me.com".
_MIN_NAME_FOR_FUZZY_MATCH = 4


def likely_typo_of(domain: str) -> str | None:
    """Return the common provider that a lower-case `domain` looks like a misspelling of, or None.

    A typo is one edit (a wrong, missing or extra letter, or two swapped letters) away from a
    provider, when the name before the first dot has at least four characters; or, for any name, the
    provider's own name with a top-level part one edit off ("gmx.ne", "gmail.con"). A known provider,
    or one two-letter country code swapped for another ("home.be" against "home.nl"), is no typo.
    """
    if domain in _PROVIDER_SET:
        return None
    name, _, top = domain.partition(".")
    # Only a provider one edit away can be named, and one edit changes the length by 1 at most.
    for provider in _PROVIDERS_NEAR_LENGTH.get(len(domain), ()):
        provider_name, _, provider_top = provider.partition(".")
        if name == provider_name:
            # Swapping one country code for another usually names another country's real domain.
            if len(top) == len(provider_top) == 2:
                continue
            if _one_edit_apart(top, provider_top):
                return provider
        elif len(name) >= _MIN_NAME_FOR_FUZZY_MATCH and _one_edit_apart(domain, provider):
            return provider
    return None


def _one_edit_apart(a: str, b: str) -> bool:
    """Tell whether a and b are Damerau-Levenshtein distance 1 apart.

    One edit: a wrong letter, a missing or extra letter, or two neighbouring letters swapped.
    """
    if len(a) > len(b):
        a, b = b, a
    if len(b) - len(a) > 1 or a == b:
        return False
    # Skip the common start: the one edit must explain the first difference and all that follows.
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) < len(b):
        return a[i:] == b[i + 1 :]  # b has an extra letter at i
    if a[i + 1 :] == b[i + 1 :]:
        return True  # a wrong letter at i
    return a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]  # i and i + 1 swapped


# email-validator says why in English sentences of its own; pages in another language say the
# gist of them, found by a phrase of the library's sentence (the first that fits), else the last.
_EMAIL_GISTS = (
    ("must have an @-sign", said("the address has no @-sign")),
    ("after the @-sign", said("the part after the @-sign is not a valid domain")),
    ("before the @-sign", said("the part before the @-sign is not valid")),
    ("too long", said("the address is too long")),
    ("", said("this is not a valid e-mail address")),
)


def email_reason(error: EmailNotValidError) -> Said:
    """The library's reason as it says it (English), with its gist for pages in other languages."""
    text = str(error)
    gist = next(gist for phrase, gist in _EMAIL_GISTS if phrase in text)
    return foreign(text, gist.template)
