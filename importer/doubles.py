"""Possible doubles: contacts at one address with the same name (first and last name, ignoring case
and accents) and, where both are known, the same birth date, under different IDs of one link.

Two family members share an address too, but rarely a name and a birthday: such a pair is
probably one person that the linked system knows under two customer numbers, which only that
system can fix. A segment rule cannot say this, so the import (`staged_people`) and the dedup page
(`stored_people`) ask it here, of the same set-based pair query, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import Connection

FIRST, LAST, BIRTH = "first_name", "last_name", "birth_date"  # the fields a person is known by
PAIRS_LISTED = 10


def _accents() -> tuple[str, str]:
    """The lower-case Latin letters with accents, and the plain letter of each (for translate())."""
    pairs = [(chr(code), unicodedata.normalize("NFD", chr(code))[0]) for code in range(0xDF, 0x250)]
    kept = [(char, plain) for char, plain in pairs
            if char == char.lower() and plain.isascii() and plain.isalpha() and plain != char]
    kept += [("ø", "o"), ("ł", "l"), ("đ", "d")]
    return "".join(char for char, _ in kept), "".join(plain for _, plain in kept)


ACCENTED, PLAIN = _accents()


def folded(expression: str) -> str:
    """SQL: `expression` trimmed, in lower case and without accents. translate() is PostgreSQL's, and
    SQLite's from segments/sqlite.py, as is SQLite's Unicode lower()."""
    return f"translate(lower(trim({expression})), '{ACCENTED}', '{PLAIN}')"


@dataclass(frozen=True)
class Doubles:
    """How many pairs are possibly the same person, and the first of them: (address, ID, other ID)."""

    count: int = 0
    pairs: list[tuple[str, str, str]] = field(default_factory=list)


def _attribute(dialect: str, name: str) -> str:
    if dialect == "postgresql":
        return f"(c.attributes->>'{name}')"
    return f"json_extract(c.attributes, '$.{name}')"


def stored_people(dialect: str, fields: set[str], where: str, contacts: str = "contacts",
                  external_ids: str = "external_ids") -> str | None:
    """SQL: the account's contacts with an ID of `:link`, at the addresses `where` allows (a condition
    on `c`), as (id_value, address_key, name, birth); None when the account has no names."""
    if not {FIRST, LAST} <= fields:
        return None
    name = f"{_attribute(dialect, FIRST)} || ' ' || {_attribute(dialect, LAST)}"
    birth = _attribute(dialect, BIRTH) if BIRTH in fields else "NULL"
    return (f"SELECT x.value AS id_value, c.address_key, {folded(name)} AS name, {birth} AS birth "
            f"FROM {contacts} c JOIN {external_ids} x ON x.contact_id = c.id AND x.link_id = :link "
            f"AND NOT x.merged WHERE c.account_id = :account AND {where}")


def staged_people(columns: dict[str, str], stage: str, plan: str) -> str | None:
    """SQL: the file's rows that the import keeps, as people (their ID is the matched value);
    `columns` names the staging column of each mapped field. None without both names in the file."""
    if FIRST not in columns or LAST not in columns:
        return None
    birth = f"CAST(s.{columns[BIRTH]} AS TEXT)" if BIRTH in columns else "NULL"
    return (f"SELECT s.match_value AS id_value, s.address_key, "
            f"{folded(f's.{columns[FIRST]} || {chr(39)} {chr(39)} || s.{columns[LAST]}')} AS name, "
            f"{birth} AS birth FROM {stage} s JOIN {plan} p ON p.row_no = s.row_no "
            "WHERE p.action <> 'reject' AND s.address_key IS NOT NULL")


def find_doubles(conn: Connection, people: list[str], parameters: dict) -> Doubles:
    """The pairs of `people` (SELECTs of id_value, address_key, name, birth) that are possibly one
    person: one address, one name, different IDs, and no two different birth dates."""
    sql = (f"WITH people AS (SELECT DISTINCT id_value, address_key, name, birth FROM "
           f"({' UNION ALL '.join(people)}) AS everyone WHERE name IS NOT NULL AND name <> ''), "
           "pairs AS (SELECT a.address_key, a.id_value AS one, b.id_value AS other FROM people a "
           "JOIN people b ON b.address_key = a.address_key AND b.name = a.name AND b.id_value > a.id_value "
           "AND (a.birth IS NULL OR b.birth IS NULL OR a.birth = b.birth) GROUP BY a.address_key, "
           "a.id_value, b.id_value) "
           "SELECT address_key, one, other, count(*) OVER () AS total FROM pairs "
           f"ORDER BY address_key, one, other LIMIT {PAIRS_LISTED}")
    rows = conn.execute(text(sql), parameters).all()
    if not rows:
        return Doubles()
    return Doubles(int(rows[0].total), [(row.address_key, row.one, row.other) for row in rows])
