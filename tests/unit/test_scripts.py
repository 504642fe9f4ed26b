"""importer/scripts.py: which addresses mix scripts within one word."""

from __future__ import annotations

import pytest

from importer.rows import MIXED_SCRIPTS_LISTED, RowStats
from importer.scripts import mixed_scripts


@pytest.mark.parametrize("address, scripts", [
    ("paypal@p\u0430ypal.com", ["CYRILLIC", "LATIN"]),  # a Cyrillic "а" in the domain
    ("p\u0430ypal@paypal.com", ["CYRILLIC", "LATIN"]),  # ... and in the local part
    ("anna@\u03b1pple.com", ["GREEK", "LATIN"]),  # a Greek alpha
    ("anna@example.c\u043em", ["CYRILLIC", "LATIN"]),  # in the top-level domain
    ("anna@example.com", None),
    ("\u0438\u0432\u0430\u043d@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444", None),  # Cyrillic alone
    ("\u0438\u0432\u0430\u043d@example.com", None),  # one script per part
    ("j\u00fcrgen@b\u00fccher.de", None),  # Latin with diacritics
    ("jose\u0301@example.com", None),  # a combining accent belongs to its letter
    ("tar\u014d\u3072\u3089\u304c\u306a\u30ab\u30bf\u5c71@example.jp", None),  # Japanese: with Latin
    ("\u5c71\u7530abc@\u4f8b\u3048.jp", None),
    ("kim\ud55c\uad6d@example.kr", None),  # Korean with Latin
    ("\u0430\u03b1@example.com", ["CYRILLIC", "GREEK"]),
    ("anna1-2_3@ex-ample.com", None),
])
def test_mixed_scripts(address, scripts):
    assert mixed_scripts(address) == scripts


def test_row_stats_merge_keeps_the_first_rows_of_the_file():
    here, there = RowStats(), RowStats()
    for row in range(20, 40):
        here.note_mixed_scripts(row, f"a{row}@x", ["CYRILLIC", "LATIN"])
    for row in (3, 50):
        there.note_mixed_scripts(row, f"a{row}@x", ["CYRILLIC", "LATIN"])
    here.merge(there)
    assert here.mixed_scripts == 22
    assert [row for row, _, _ in here.mixed_script_rows] == [3, *range(20, 20 + MIXED_SCRIPTS_LISTED - 1)]
