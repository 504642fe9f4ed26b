"""The staging table: checked rows land here in bulk before any contact is touched.

One temporary table per import connection. Rows go in with `executemany` (SQLite) or COPY
(PostgreSQL); rows that share a match key are then merged in file order, so that every key
appears once when the rows are classified.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.engine import Connection

from importer.rows import StagedField

STAGE = "import_stage"
BASE_COLUMNS = ("row_no", "match_value", "email", "address_key", "status")
# Stage column types per field type and dialect; dates are ISO strings, compared as text.
FIELD_SQL_TYPES = {
    "sqlite": {"text": "TEXT", "date": "TEXT", "number": "NUMERIC", "boolean": "INTEGER"},
    "postgresql": {"text": "text", "date": "text", "number": "numeric", "boolean": "boolean"},
}


class StageTable:
    """A temporary table of checked rows on one connection."""

    def __init__(self, conn: Connection, fields: Sequence[StagedField]) -> None:
        self.conn = conn
        self.fields = list(fields)
        self.dialect = conn.dialect.name
        self.columns = [*BASE_COLUMNS, *(f.column for f in self.fields)]

    def create(self) -> None:
        types = FIELD_SQL_TYPES[self.dialect]
        field_columns = "".join(f", {f.column} {types[f.type]}" for f in self.fields)
        self.conn.exec_driver_sql(f"DROP TABLE IF EXISTS {STAGE}")
        self.conn.exec_driver_sql(
            f"CREATE TEMP TABLE {STAGE} (row_no INTEGER PRIMARY KEY, match_value TEXT NOT NULL, "
            f"email TEXT, address_key TEXT, status TEXT, merged_rows INTEGER NOT NULL DEFAULT 0, "
            f"merged_row_nos TEXT, value_rows TEXT{field_columns})"
        )

    def load(self, rows: Sequence[tuple]) -> None:
        """Append a batch of staged rows."""
        if not rows:
            return
        if self.dialect == "postgresql":
            cursor = self.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            with cursor.copy(f"COPY {STAGE} ({', '.join(self.columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            # The driver's own executemany: SQLAlchemy would look at every row's parameters.
            marks = ", ".join("?" for _ in self.columns)
            cursor = self.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cursor.executemany(f"INSERT INTO {STAGE} ({', '.join(self.columns)}) VALUES ({marks})", rows)
            cursor.close()

    def finish_loading(self) -> None:
        """Index the match key and give the planner statistics (before merging: see there)."""
        self.conn.exec_driver_sql(f"CREATE INDEX {STAGE}_match ON {STAGE} (match_value)")
        self.conn.exec_driver_sql(f"ANALYZE {STAGE}")

    def merge_repeated_keys(self) -> int:
        """Merge rows that share a match key into the first of them; return rows merged away.

        Call it after `finish_loading`: the match key's index gives the keys in order, so finding
        the repeated ones is one pass over the index rather than a sort of the whole file.
        """
        return self.merge_groups(
            f"SELECT row_no, match_value AS group_key FROM {STAGE} WHERE match_value IN "
            f"(SELECT match_value FROM {STAGE} GROUP BY match_value HAVING count(*) > 1)"
        )

    def merge_groups(self, groups_sql: str, params: dict | None = None) -> int:
        """Merge the rows of each group into its first row; return rows merged away.

        `groups_sql` selects `row_no, group_key` for the rows to merge (few, usually). Later
        non-empty values win, by their rows' order in the file, also when groups that were merged
        before are merged again: `value_rows` remembers the row each value came from. The address
        and its key travel together. The merged row remembers the row numbers it absorbed, so that
        a rejection can list every one of them.
        """
        value_columns = ["email", "status", *(f.column for f in self.fields)]
        result = self.conn.execute(
            text(f"SELECT g.group_key, s.row_no, s.address_key, s.merged_rows, s.merged_row_nos, "
                 f"s.value_rows, {', '.join(f's.{c}' for c in value_columns)} FROM {STAGE} s "
                 f"JOIN ({groups_sql}) g ON g.row_no = s.row_no ORDER BY g.group_key, s.row_no"),
            params or {},
        )
        updates: list[dict] = []
        absorbed: list[int] = []
        group: list[Sequence] = []
        for record in result:
            if group and record[0] != group[0][0]:
                updates.append(_merge_group(group, value_columns))
                absorbed.extend(r[1] for r in group[1:])
                group = []
            group.append(record)
        if group:
            updates.append(_merge_group(group, value_columns))
            absorbed.extend(r[1] for r in group[1:])
        if not updates:
            return 0
        assignments = ", ".join(f"{c} = :{c}" for c in ["address_key", *value_columns])
        self.conn.execute(
            text(f"UPDATE {STAGE} SET {assignments}, merged_rows = :merged_rows, "
                 f"merged_row_nos = :merged_row_nos, value_rows = :value_rows WHERE row_no = :row_no"),
            updates,
        )
        self.conn.execute(text(f"DELETE FROM {STAGE} WHERE row_no = :row_no"),
                          [{"row_no": r} for r in absorbed])
        return len(absorbed)

    def drop(self) -> None:
        self.conn.exec_driver_sql(f"DROP TABLE IF EXISTS {STAGE}")


def _merge_group(group: list[Sequence], value_columns: list[str]) -> dict:
    """Merge records (group_key, row_no, address_key, merged_rows, merged_row_nos, value_rows,
    *values) ordered by row number into one: per column, the value from the latest file row."""
    merged: dict = dict.fromkeys(["address_key", *value_columns])
    sources: dict[str, int] = {}  # column -> the file row its value came from
    absorbed: list[int] = []
    for index, (_, row_no, akey, _, merged_row_nos, value_rows, *values) in enumerate(group):
        if index:
            absorbed.append(row_no)
        absorbed.extend(json.loads(merged_row_nos or "[]"))
        came_from = json.loads(value_rows) if value_rows else {}
        for column, value in zip(value_columns, values, strict=True):
            if value is None:
                continue
            source = came_from.get(column, row_no)
            if column not in sources or source > sources[column]:
                merged[column], sources[column] = value, source
                if column == "email":
                    merged["address_key"] = akey
    merged["row_no"] = group[0][1]
    merged["merged_rows"] = len(absorbed)
    merged["merged_row_nos"] = json.dumps(sorted(absorbed))
    merged["value_rows"] = json.dumps(sources)
    return merged
