"""What the language tests share: a page's visible words, and the Dutch catalogue."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

PO_PATH = Path(__file__).resolve().parents[2] / "service/translations/nl/LC_MESSAGES/messages.po"
# Text that is code or data, not words of the page: shown as it is in every language.
SKIPPED_ELEMENTS = {"script", "style", "code", "pre", "textarea"}
SHOWN_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt"}


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.skipping = 0
        self.lang: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "html":
            self.lang = named.get("lang")
        if tag in SKIPPED_ELEMENTS:
            self.skipping += 1
        for name, value in attrs:
            if value and (name in SHOWN_ATTRIBUTES
                          or (name == "value" and tag == "input"
                              and named.get("type") in ("submit", "button"))):
                self.texts.append(_squeeze(value))

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED_ELEMENTS and self.skipping:
            self.skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self.skipping and data.strip():
            self.texts.append(_squeeze(data))


def _squeeze(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class PageText:
    lang: str | None
    texts: list[str]  # each text node and shown attribute, whitespace squeezed

    @property
    def joined(self) -> str:
        return " ".join(self.texts)


def page_text(html: str) -> PageText:
    """The words a person sees (and a screen reader reads) on a page."""
    parser = _VisibleText()
    parser.feed(html)
    return PageText(parser.lang, parser.texts)


@cache
def dutch_catalogue() -> Catalog:
    with PO_PATH.open("rb") as po_file:
        return read_po(po_file, locale="nl")


def _plain(text: str) -> str:
    """A message as the page shows it: without its markup, whitespace squeezed."""
    return _squeeze(re.sub(r"<[^>]+>", "", text))


@cache
def _pattern(text: str) -> re.Pattern[str]:
    """A message with its placeholders as a pattern that matches it filled in."""
    parts = re.split(r"%\(\w+\)s", _plain(text))
    return re.compile(".+?".join(re.escape(part) for part in parts))


@cache
def translated_pairs() -> list[tuple[str, str]]:
    """(English, Dutch) of every message whose Dutch differs, each form of a plural too."""
    pairs = []
    for message in dutch_catalogue():
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for english, dutch in zip(ids, strings, strict=False):
            if _plain(english) != _plain(dutch):
                pairs.append((english, dutch))
    return pairs


def same_in_both() -> set[str]:
    """Messages that Dutch says as English does (Status, Segment, Mailing, ID...)."""
    same = set()
    for message in dutch_catalogue():
        if message.id and not isinstance(message.id, tuple) and _plain(message.id) == _plain(message.string):
            same.add(_plain(message.id))
    return same


def leftovers(page: PageText, words: list[str], own_words: list[str]) -> list[str]:
    """The texts of `page` that are one of these messages (placeholders filled in or not) and none
    of the page language's `own_words`, and the longer messages (four words or more) found anywhere
    in its text."""
    found = []
    texts, joined = set(page.texts), page.joined
    for message in words:
        pattern = _pattern(message)
        if any(pattern.fullmatch(text) and not any(_pattern(mine).fullmatch(text) for mine in own_words)
               for text in texts):
            found.append(message)
        elif len(_plain(message).split()) >= 4 and "%(" not in message and _plain(message) in joined:
            found.append(message)
    return found
