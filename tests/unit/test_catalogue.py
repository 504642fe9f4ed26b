"""The Dutch catalogue is whole: every word of the templates is marked for translation, every
marked message is in service/translations/nl/LC_MESSAGES/messages.po, translated and not fuzzy,
with the same placeholders as its English."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "service" / "templates"
PO_PATH = ROOT / "service/translations/nl/LC_MESSAGES/messages.po"
# As babel.cfg and `make messages` extract them.
METHODS = [("service/**.py", "python"), ("importer/**.py", "python"), ("segments/**.py", "python"),
           ("service/templates/**.html", "jinja2")]
OPTIONS = {"service/templates/**.html": {"trimmed": "true"}}
# importer.said marks the messages of importer/, segments/ and the domain (its template is
# foreign's second argument).
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "said": None, "foreign": (2,)}
# Text in a template that is no word of a language: symbols, and names shown as they are.
NOT_WORDS = {"UTC"}
SHOWN_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")


def _catalogue():  # type: ignore[no-untyped-def]
    with PO_PATH.open("rb") as po_file:
        return read_po(po_file, locale="nl")


def _extracted() -> set[str | tuple[str, ...]]:
    found = set()
    for _, _, message, _, _ in extract_from_dir(str(ROOT), METHODS, options_map=OPTIONS, keywords=KEYWORDS):
        found.add(message[:2] if isinstance(message, tuple) else message)
    return found


def _bare_text(source: str) -> list[str]:
    """The words of a template outside {{ }}, {% %}, {% trans %} blocks, comments and scripts."""
    source = re.sub(r"{#.*?#}", " ", source, flags=re.S)
    source = re.sub(r"{%-?\s*trans\b.*?{%-?\s*endtrans\s*-?%}", " ", source, flags=re.S)
    source = re.sub(r"<script\b.*?</script>", " ", source, flags=re.S)
    source = re.sub(r"{{.*?}}", " ", source, flags=re.S)
    source = re.sub(r"{%.*?%}", " ", source, flags=re.S)
    words = [f'{name}="{value}"' for name, value in
             re.findall(rf'\b({"|".join(SHOWN_ATTRIBUTES)})="([^"]*)"', source)
             if re.search(r"[A-Za-z]{2}", value)]
    source = re.sub(r"<[^>]*>", " ", source)
    source = re.sub(r"[\w-]+=\"[^\"]*\"", " ", source)  # attributes a macro writes outside a tag
    words += [word for word in re.findall(r"[A-Za-z][A-Za-z'’-]+", source) if word not in NOT_WORDS]
    return words


@pytest.mark.parametrize("template",
                         sorted(p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*.html")))
def test_every_word_of_a_template_is_marked_for_translation(template: str) -> None:
    assert _bare_text((TEMPLATES / template).read_text()) == []


def test_the_check_finds_a_bare_word() -> None:
    assert _bare_text('<p>{{ _("Marked") }} Forgotten <span title="Also">x</span></p>') == [
        'title="Also"', "Forgotten"]
    assert _bare_text("{% trans %}Marked <b>too</b>{% endtrans %} {{ value }} ·") == []


def test_the_catalogue_holds_every_marked_message_translated() -> None:
    catalogue = _catalogue()
    assert not catalogue.fuzzy, "the catalogue's header is marked fuzzy: pybabel compile would skip it"
    held = {message.id for message in catalogue if message.id}
    extracted = _extracted()
    assert sorted(map(str, extracted - held)) == [], "marked but not in messages.po: run `make messages`"
    assert sorted(map(str, held - extracted)) == [], "in messages.po but used nowhere: run `make messages`"
    problems = []
    for message in catalogue:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(s.strip() for s in strings):
            problems.append(f"untranslated or fuzzy: {message.id!r}")
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        wanted = set(re.findall(r"%\(\w+\)s", ids[-1]))
        if any(set(re.findall(r"%\(\w+\)s", s)) != wanted for s in strings):
            problems.append(f"placeholders differ: {message.id!r}")
        if any(re.findall(r"</?\w+", s) != re.findall(r"</?\w+", ids[-1]) for s in strings):
            problems.append(f"markup differs: {message.id!r}")
    assert problems == [], "\n".join(problems)
