"""Messages said in English now and in the reader's language later (deferred translation).

importer/, segments/ and service/domain write every refusal with `said(template, **params)`. The
result is a `str`: the English sentence, byte for byte as the API, the logs and stored reports have
always had it. It also keeps its template and parameters, so that a page can say it in its own
language: the catalogue's translation of the template, filled with the same parameters
(service/words.py `say`). `make messages` extracts the templates (`-k said`, babel.cfg).

A parameter that is itself a word a page has a translation for (a status, a field type) is passed
as `word(value)`, a count written with thousands separators as `grouped(value)`; a parameter
that is another message is said in the page's language too; anything else (a name, a value from
a file) is shown as it is. A library's own sentence (email-validator's reason, the csv module's
error) is `foreign(text, template)`: English as the library says it, `template` in other languages.

Plain Python, no Flask: segments/ and service/ use it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Params = Mapping[str, object]


class Said(str):
    """An English sentence that remembers how it was made: `template % params`."""

    template: str
    params: Params
    is_word: bool
    is_number: bool  # params["n"], written "1,234,567" in English
    english_only: bool  # a library's sentence: pages in another language say the template

    def __new__(cls, template: str, params: Params | None = None, *, english: str | None = None,
                is_word: bool = False, is_number: bool = False) -> Said:
        params = dict(params or {})
        text = english if english is not None else (template % params if params else template)
        self = super().__new__(cls, text)
        self.template, self.params, self.is_word, self.is_number = template, params, is_word, is_number
        self.english_only = english is not None
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        # The row checker sends its errors to another process: keep the template across pickling.
        return _rebuilt, (self.template, self.params, str(self) if self.english_only else None, self.is_word,
                          self.is_number)

    def as_json(self) -> dict[str, Any]:
        """The message as stored data, for `from_json` to make it again (job errors, warnings)."""
        return {"template": self.template, "english": str(self) if self.english_only else None,
                "word": self.is_word, "number": self.is_number,
                "params": {key: value.as_json() if isinstance(value, Said) else value
                           for key, value in self.params.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Said:
        params = {key: cls.from_json(value) if isinstance(value, dict) else value
                  for key, value in data.get("params", {}).items()}
        return cls(data["template"], params, english=data.get("english"), is_word=bool(data.get("word")),
                   is_number=bool(data.get("number")))


def _rebuilt(template: str, params: Params, english: str | None, is_word: bool, is_number: bool) -> Said:
    return Said(template, params, english=english, is_word=is_word, is_number=is_number)


def said(template: str, **params: object) -> Said:
    """The sentence `template % params`, translatable later (the template is extracted)."""
    return Said(template, params)


def word(value: str) -> Said:
    """A parameter that is a word of the pages' vocabulary (a status, a type, a dedup mode)."""
    return Said(str(value), is_word=True)


def grouped(value: int) -> Said:
    """A count as a parameter: "1,234,567" in English, in the page's language's way on a page."""
    return Said("%(n)s", {"n": value}, english=format(value, ","), is_number=True)


def foreign(text: str, template: str, **params: object) -> Said:
    """A library's sentence `text` as it is in English; `template` (extracted) in other languages."""
    return Said(template, params, english=text)


def message_of(error: BaseException) -> str:
    """An exception's message, a Said when it was raised with one (str(error) would lose it)."""
    if error.args and isinstance(error.args[0], Said):
        return error.args[0]
    return str(error)


def at(part: str, message: str) -> Said:
    """`message` about one part of the input ("fields.age: ..."); a page that shows the message next
    to that part says only `message` (service/words.py `without_part`)."""
    return Said(AT, {"part": part, "message": message})


AT = "%(part)s: %(message)s"


def words_of(message: str) -> dict[str, Any] | None:
    """What to store beside an English message so that it can be said again: its JSON, if a Said."""
    return message.as_json() if isinstance(message, Said) else None


def listed(items: list[str]) -> Said:
    """Items said one after another, "a, b, c", each in the page's language when it is a message."""
    return Said(", ".join(f"%({i})s" for i in range(len(items))),
                {str(i): item for i, item in enumerate(items)})


def and_more(items: str, more: int) -> str:
    """The first items of a longer list: "a, b and 3 more" (just the items when none are left out)."""
    return said("%(items)s and %(more)s more", items=items, more=more) if more > 0 else items


def with_words(entry: dict[str, Any]) -> dict[str, Any]:
    """A stored entry (a warning) with its message's words beside it, under "words", when it has them."""
    words = words_of(entry.get("message", ""))
    return {**entry, "words": words} if words is not None else entry
