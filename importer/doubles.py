"""Possible doubles: contacts at one address with the same name (first and last name, ignoring case
and accents) and, where both are known, the same birth date, under different IDs of one link.

Two family members share an address too, but rarely a name and a birthday: such a group is
probably one person that the linked system knows under two customer numbers, which only that
system can fix. A segment rule cannot say this, so the import (`staged_people`) and the dedup page
(`stored_people`) ask it here, of the same set-based query, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import Connection

FIRST, LAST, BIRTH = "first_name", "last_name", "birth_date"  # the fields a person is known by
GROUPS_LISTED = 10


def _accents() -> tuple[str, str]:
    """The lower-case Latin letters with accents, and the plain letter of each (for translate())."""
    pairs = [(chr(code), unicodedata.normalize("NFD", chr(code))[0]) for code in range(0xDF, 0x250)]
    kept = [(char, plain) for char, plain in pairs
            if char == char.lower() and plain.isascii() and plain.isalpha() and plain != char]
    kept += [("ø", "o"), ("ł", "l"), ("đ", "d")]
    return "".join(char for char, _ in kept), "".join(plain for _, plain in kept)


ACCENTED, PLAIN = _accents()


def folded(expression: str, dialect: str = "sqlite") -> str:
    """SQL: `expression` trimmed, in lower case and without accents. translate() is PostgreSQL's, and
    SQLite's from segments/sqlite.py, as is SQLite's Unicode lower()."""
    plain = f"lower(trim({expression}))"
    # translate() over 170 letters costs about 15 µs a name on PostgreSQL, and on SQLite a call of
    # Python with both lists of letters as arguments; a name in ASCII (one byte a character) has
    # no letter it would change, so it is skipped, to the same result.
    octets = (f"octet_length({expression})" if dialect == "postgresql"
              else f"length(CAST({expression} AS BLOB))")
    return (f"CASE WHEN {octets} = length({expression}) THEN {plain} "
            f"ELSE translate({plain}, '{ACCENTED}', '{PLAIN}') END")


@dataclass(frozen=True)
class Doubles:
    """How many groups of contacts are possibly one person, and the first: (address, their IDs)."""

    count: int = 0
    groups: list[tuple[str, list[str]]] = field(default_factory=list)


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
    return (f"SELECT x.value AS id_value, c.address_key, {folded(name, dialect)} AS name, {birth} AS birth "
            f"FROM {contacts} c JOIN {external_ids} x ON x.contact_id = c.id AND x.link_id = :link "
            f"AND NOT x.merged WHERE c.account_id = :account AND {where}")


DOUBTFUL = "import_doubtful_addresses"


def doubtful_addresses(plan: str) -> str:
    """SQL: the addresses where the file can bring a double: several of its rows, or a new ID at an
    address the account has (doubles among stored contacts alone are the dedup page's)."""
    return (f"SELECT address_key FROM {plan} WHERE action <> 'reject' AND address_key IS NOT NULL "
            "AND (repeated = 1 OR (action = 'create' AND addr_known = 1))")


def collect_doubtful_addresses(conn: Connection, plan: str) -> str:
    """Keep the doubtful addresses in an indexed temporary table; return SQL that selects them.

    As a subquery the planner could rescan the whole plan for every stored contact it meets (a
    nested loop, when the contacts' statistics are old): minutes for 100,000 contacts.
    """
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {DOUBTFUL}")
    conn.exec_driver_sql(f"CREATE TEMP TABLE {DOUBTFUL} AS SELECT DISTINCT address_key "
                         f"FROM ({doubtful_addresses(plan)}) AS doubtful")
    conn.exec_driver_sql(f"CREATE UNIQUE INDEX {DOUBTFUL}_key ON {DOUBTFUL} (address_key)")
    conn.exec_driver_sql(f"ANALYZE {DOUBTFUL}")
    return f"SELECT address_key FROM {DOUBTFUL}"


def staged_people(columns: dict[str, str], stage: str, plan: str, doubtful: str | None = None,
                  dialect: str = "sqlite") -> str | None:
    """SQL: the file's rows that the import keeps at a doubtful address, as people (their ID is the
    matched value); `columns` names the staging column of each mapped field, `doubtful` selects the
    addresses (by default `doubtful_addresses`). None without both names in the file."""
    if FIRST not in columns or LAST not in columns:
        return None
    birth = f"CAST(s.{columns[BIRTH]} AS TEXT)" if BIRTH in columns else "NULL"
    name = f"s.{columns[FIRST]} || ' ' || s.{columns[LAST]}"
    return (f"SELECT s.match_value AS id_value, s.address_key, {folded(name, dialect)} AS name, "
            f"{birth} AS birth FROM {stage} s JOIN {plan} p ON p.row_no = s.row_no "
            "WHERE p.action <> 'reject' "
            f"AND s.address_key IN ({doubtful or doubtful_addresses(plan)})")


def find_doubles(conn: Connection, people: list[str], parameters: dict) -> Doubles:
    """The groups of `people` (SELECTs of id_value, address_key, name, birth) that are possibly one
    person: one address, one name, several IDs, and no two different birth dates. One GROUP BY, no
    pairs: it stays linear in the people at shared addresses."""
    ids = ("string_agg(DISTINCT id_value, ',')" if conn.dialect.name == "postgresql"
           else "group_concat(DISTINCT id_value)")
    # Materialized: else the name's test moves into the scans below the address filter, and the
    # name is folded for every row of the file (13 s of a million-row import on PostgreSQL).
    sql = (f"WITH everyone AS MATERIALIZED ({' UNION ALL '.join(people)}) "
           f"SELECT address_key, {ids} AS ids, count(*) OVER () AS total "
           "FROM everyone WHERE name IS NOT NULL AND name <> '' "
           "GROUP BY address_key, name HAVING count(DISTINCT id_value) > 1 AND count(DISTINCT birth) <= 1 "
           f"ORDER BY address_key, min(id_value) LIMIT {GROUPS_LISTED}")
    rows = conn.execute(text(sql), parameters).all()
    if not rows:
        return Doubles()
    return Doubles(int(rows[0].total), [(row.address_key, sorted(row.ids.split(","))) for row in rows])
