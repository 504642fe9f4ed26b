"""Matching a column against a long list of values with one bound parameter.

`column IN (:v1, ..., :v10000)` costs a parameter per value: SQLAlchemy renders and the driver
parses a new statement for every list length. One JSON document keeps the statement the same
for any batch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Integer, String, any_, bindparam, cast, false, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql import ColumnElement


def one_of(column: ColumnElement[Any], values: Sequence[int] | Sequence[str], dialect: str
           ) -> ColumnElement[bool]:
    """`column` equals one of `values` (ints or strings), sent as one JSON parameter.

    JSON rather than a PostgreSQL array: the driver quotes array elements one by one in Python,
    while `json.dumps` is C; for 10,000 values that is a few milliseconds against ninety.
    """
    if not values:
        return false()
    listed = json_values(values, dialect)
    if dialect == "postgresql":
        kind = Integer() if values and isinstance(values[0], int) else String()
        return column.in_(select(cast(listed.c.value, kind)))
    return column.in_(select(listed.c.value))


# Joins the values of `constant_one_of`: no address, slot or number has a control character.
UNIT_SEPARATOR = "\x1f"


def constant_one_of(column: ColumnElement[Any], values: Sequence[int] | Sequence[str], dialect: str
                    ) -> ColumnElement[bool]:
    """`column` equals one of `values`; on PostgreSQL a list its planner sees as a constant.

    `= ANY(string_to_array(:values, sep))`: in a custom plan the bound text is a constant, and
    the immutable `string_to_array` of it is folded into an array constant before planning. The
    planner then knows the list's length, and a filter by it looks each row up in a hash of the
    list; a list it does not know (an IN subquery, or an array from one) is a join it may plan
    the wrong way round, or a linear search per row. Needs a custom plan: a prepared
    statement's generic plan keeps the parameter (see send_check.clearances_query). SQLite: as
    `one_of`.
    """
    if not values or dialect != "postgresql":
        return one_of(column, values, dialect)
    if isinstance(values[0], int):
        listed = bindparam(None, ",".join(map(str, values)), type_=String())
        return column == any_(cast(func.string_to_array(listed, ","), ARRAY(Integer())))
    texts = [str(value) for value in values]
    # string_to_array('', sep) is an empty array, not one empty text
    if texts == [""] or any(UNIT_SEPARATOR in text for text in texts):
        return one_of(column, values, dialect)
    listed = bindparam(None, UNIT_SEPARATOR.join(texts), type_=String())
    return column == any_(func.string_to_array(listed, UNIT_SEPARATOR))


def json_values(values: Sequence[int] | Sequence[str], dialect: str) -> Any:
    """The values as a table of one column, `value` (text in PostgreSQL), from one JSON parameter."""
    document = bindparam(None, json.dumps(list(values)), type_=String())
    if dialect == "postgresql":
        return func.json_array_elements_text(cast(document, JSON)).table_valued("value")
    return func.json_each(document).table_valued("value")
