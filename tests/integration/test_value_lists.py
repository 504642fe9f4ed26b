"""Long value lists as one bound parameter (segments/values.py): the same rows on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Integer, String, Subquery, literal, select, union_all

from segments.values import UNIT_SEPARATOR, constant_one_of, one_of

TEXTS = ["a,b@example.nl", "o'hara@example.nl", "jérôme@example.nl", '"quoted"@example.nl', "{x}@example.nl",
         f"odd{UNIT_SEPARATOR}one", "NULL", "", "contact:12", "sanne@example.nl#0a1b2c"]
NUMBERS = [1, 7, 12, 2_147_483_647]


def _table(rows: list[Any], kind: Any) -> Subquery:
    return union_all(*(select(literal(row, kind).label("v")) for row in rows)).subquery("t")


def _found(engine, listed, table: Subquery, wanted: list) -> list:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return sorted(conn.execute(select(table.c.v).where(listed(table.c.v, wanted, engine.dialect.name))
                                   ).scalars())


@pytest.mark.parametrize("listed", [one_of, constant_one_of])
@pytest.mark.parametrize("wanted", [TEXTS[:1], TEXTS[1:6], TEXTS[6:], TEXTS, [""], []])
def test_texts_match_exactly_the_listed(engine, listed, wanted):  # type: ignore[no-untyped-def]
    table = _table(TEXTS + ["other@example.nl"], String())
    assert _found(engine, listed, table, wanted) == sorted(wanted)


@pytest.mark.parametrize("listed", [one_of, constant_one_of])
@pytest.mark.parametrize("wanted", [[7], [1, 12, 2_147_483_647], []])
def test_numbers_match_exactly_the_listed(engine, listed, wanted):  # type: ignore[no-untyped-def]
    assert _found(engine, listed, _table(NUMBERS + [99], Integer()), wanted) == sorted(wanted)
