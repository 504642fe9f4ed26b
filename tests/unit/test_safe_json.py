"""Reading JSON from strangers (service/safe_json.py): what it refuses, and why, without recursion."""

from __future__ import annotations

import json

import pytest

from service.safe_json import UnsafeJson, loads


@pytest.mark.parametrize(("text", "words"), [
    ("[" * 100_000 + "]" * 100_000, "nests more than"),
    ('{"n": ' + "9" * 41 + "}", "more than 40 digits"),
    ('{"n": 1e999}', "too large"),
    ('{"n": NaN}', "not a JSON number"),
    ('{"s": "a\\u0000"}', "NUL"),
    ('{"s": "\\ud800"}', "lone surrogate"),
    ('{"\\udfff": 1}', "lone surrogate"),
    ('[{"s": ["\\udbff\\u0041"]}]', "lone surrogate"),
    ('{"a": 1, "a": 2}', "given twice"),
    ('{"o": {"b": 1, "b": 1}}', "given twice"),
    (b'{"s": "\\xff"}'.replace(b"\\xff", b"\xff"), "not UTF-8"),
])
def test_unsafe_json_is_refused_saying_why(text: str | bytes, words: str) -> None:
    with pytest.raises(UnsafeJson, match=words):
        loads(text)


def test_a_surrogate_pair_is_one_character_and_fine() -> None:
    assert loads('{"s": "\\ud83d\\ude00"}') == {"s": "\U0001F600"}


def test_a_batch_may_take_unstorable_text_for_its_items_to_answer() -> None:
    assert loads('{"e": ["\\u0000", "\\ud800"]}', allow_unstorable=True) == {"e": ["\x00", "\ud800"]}
    with pytest.raises(UnsafeJson, match="given twice"):  # but never a key given twice
        loads('{"e": 1, "e": 2}', allow_unstorable=True)


def test_not_json_is_a_plain_value_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        loads("{oops")


@pytest.mark.parametrize(("text", "value"), [
    ('{"n": ' + "9" * 40 + "}", {"n": int("9" * 40)}),  # the longest integer read
    ('{"n": ' + "1." + "0" * 60 + "}", {"n": 1.0}),  # a long run of digits in a float is no integer
    ('{"s": "' + "9" * 60 + '", "n": -7}', {"s": "9" * 60, "n": -7}),  # nor one in a string
    ("[" * 100 + "]" * 100, json.loads("[" * 100 + "]" * 100)),  # at the limit
    ('[["]]]]' + "[" * 200 + '"]]', [["]]]]" + "[" * 200]]),  # brackets in strings do not nest
])
def test_what_the_short_cuts_still_read(text: str, value: object) -> None:
    assert loads(text) == value


def test_a_long_integer_next_to_short_text_is_still_refused() -> None:
    with pytest.raises(UnsafeJson, match="more than 40 digits"):
        loads('{"contacts": [1, 2, ' + "1" * 41 + "]}")
    with pytest.raises(UnsafeJson, match="nests more than"):
        loads("[" * 101 + "]" * 101)
