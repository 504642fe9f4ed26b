"""Checking one row of a file: trim, validate, normalise; a row problem is data, not an exception.

The checker turns a record into either a staged tuple (ready for the staging table) or a
Rejection with a stable reason code. It runs once per row of files with millions of rows, so it
is a closure over precomputed column positions rather than a class with attribute lookups.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from email_validator import EmailNotValidError

from importer.addresses import AddressValidator, address_key, erased_address_hash, likely_typo_of
from importer.id_patterns import id_matcher
from importer.said import said
from importer.scripts import mixed_scripts
from importer.settings import AccountInfo, ImportSettings
from importer.values import InvalidValue, Value, parse_status, value_parser

MAX_NUMBER = 2**63  # numbers must be smaller than this, either way
MEMO_LIMIT = 100_000  # parsed cells remembered per column
ERASED_DETAIL = "the person at this address asked to be forgotten (an admin can lift the erasure)"

@dataclass(frozen=True)
class Rejection:
    row: int
    reason: str
    detail: str
    cells: list[str]


@dataclass(frozen=True)
class StagedField:
    """A mapped field as it is staged: its name, its type and its staging column."""

    name: str
    type: str
    column: str  # f0, f1, ...: never user text in SQL


MIXED_SCRIPTS_LISTED = 10  # rows a mixed-script warning names
TYPO_ROWS_LISTED = 5  # rows a typo warning names (the first in the file)


@dataclass
class RowStats:
    """What the checker learns in passing, for the warnings."""

    typo_domains: Counter[str] = field(default_factory=Counter)  # "gamil.com -> gmail.com": rows
    mixed_scripts: int = 0  # rows whose address mixes scripts in one word
    # The first of them in the file: (row, address, "CYRILLIC and LATIN").
    mixed_script_rows: list[tuple[int, str, str]] = field(default_factory=list)
    typo_rows: list[int] = field(default_factory=list)  # the first rows with a misspelt domain

    def note_typo(self, row: int, domain: str) -> None:
        self.typo_domains[domain] += 1
        if len(self.typo_rows) < TYPO_ROWS_LISTED:
            self.typo_rows.append(row)

    def note_mixed_scripts(self, row: int, address: str, scripts: list[str]) -> None:
        self.mixed_scripts += 1
        if len(self.mixed_script_rows) < MIXED_SCRIPTS_LISTED:
            self.mixed_script_rows.append((row, address, " and ".join(scripts)))

    def merge(self, other: RowStats) -> None:
        """Add what another checker (the worker process) learnt about other rows of the file."""
        self.typo_domains.update(other.typo_domains)
        self.typo_rows = sorted(self.typo_rows + other.typo_rows)[:TYPO_ROWS_LISTED]
        self.mixed_scripts += other.mixed_scripts
        first = sorted(self.mixed_script_rows + other.mixed_script_rows)
        self.mixed_script_rows = first[:MIXED_SCRIPTS_LISTED]


# A staged row: (row, match_value, email, address_key, status, *field values)
StagedRow = tuple
RowChecker = Callable[[int, list[str]], "StagedRow | Rejection"]
# A staged field's column: its position, the values its parser gave for cells seen before and its
# parser (both None for text: trimming is all), and its label.
FieldColumn = tuple[int, "dict[str, Value] | None", "Callable[[str], Value] | None", str]


class MatchKey(NamedTuple):
    """Where a row's match key is and how it is checked."""

    at: int | None  # None when nothing is mapped to email and the import matches by address
    id_matches: Callable[[str], bool] | None  # the link's ID pattern, if any
    label: str  # the key's column, as a rejection names it


def staged_fields(settings: ImportSettings, account: AccountInfo) -> list[StagedField]:
    """List the mapped fields other than the built-ins, in staging-column order."""
    types = {**account.fields, **settings.create_fields}
    names = [f for f in settings.mapping.values() if f not in ("email", "status")]
    return [StagedField(name, types[name], f"f{i}") for i, name in enumerate(names)]


def make_row_checker(
    settings: ImportSettings,
    account: AccountInfo,
    columns: list[str],
    stats: RowStats,
    validator: AddressValidator | None = None,
) -> RowChecker:
    """Build the function that checks one record of a file with these columns."""
    normalize = (validator or AddressValidator()).normalize
    width = len(columns)
    position = {name: i for i, name in enumerate(columns)}
    by_field = {f: position[c] for c, f in settings.mapping.items()}
    email_at = by_field.get("email")
    status_at = by_field.get("status")
    field_cols = _field_columns(settings, account, columns, by_field)
    key_at, id_matches, key_label = _match_key(settings, account, columns, position, email_at)
    typo_cache: dict[str, str | None] = {}
    statuses: dict[str, str] = {}  # a status column holds a handful of spellings
    erased = _erased_check(account)

    def check(row: int, cells: list[str]) -> StagedRow | Rejection:
        if NUL in "".join(cells):  # one scan of the row: a tenth of the cost of one per cell
            return _nul_rejection(row, cells)
        if len(cells) != width:
            if len(cells) > width:
                if any(c.strip() for c in cells[width:]):
                    return Rejection(row, "malformed_row",
                                     f"{len(cells)} cells where the header has {width}", cells)
                cells = cells[:width]
            else:
                cells = cells + [""] * (width - len(cells))
        key = cells[key_at].strip() if key_at is not None else ""
        if not key:
            return Rejection(row, "missing_key", f"no value in {key_label}", cells)
        email = akey = None
        if email_at is not None:
            raw_email = cells[email_at].strip()
            if raw_email:
                try:
                    email = normalize(raw_email)
                except EmailNotValidError as error:
                    return Rejection(row, "invalid_email", str(error), cells)
                akey = address_key(email)
                if erased is not None and erased(akey):
                    return Rejection(row, "erased_address", ERASED_DETAIL, cells)
        if id_matches is not None and not id_matches(key):
            return Rejection(row, "invalid_external_id",
                             f"'{key}' does not match the link's ID pattern", cells)
        status = None
        problems = []
        if status_at is not None:
            raw_status = cells[status_at].strip()
            if raw_status:
                status = statuses.get(raw_status)
                if status is None:
                    try:
                        status = parse_status(raw_status)
                    except InvalidValue as error:
                        problems.append(f"{_column_label(columns, status_at)}: {error}")
                    else:
                        if len(statuses) < MEMO_LIMIT:
                            statuses[raw_status] = status
        values: list[Value | None] = []
        append = values.append
        for at, memo, parse, label in field_cols:
            text = cells[at].strip()
            if not text:
                append(None)
            elif memo is None:
                append(text)
            else:
                # Most cells repeat a value seen before: one lookup, no call (a value is never None).
                value = memo.get(text)
                if value is None:
                    try:
                        value = parse(text)  # type: ignore[misc]
                    except InvalidValue as error:
                        problems.append(f"{label}: {error}")
                        continue  # a cell that fails is not remembered: it raises again
                    if len(memo) < MEMO_LIMIT:
                        memo[text] = value
                append(value)
        if problems:
            return Rejection(row, "invalid_value", "; ".join(problems), cells)
        if akey is not None:
            # Only rows that are imported count: a rejected row's address is not imported as it is.
            domain = akey.rpartition("@")[2]
            if domain not in typo_cache:
                typo_cache[domain] = likely_typo_of(domain)
            typo = typo_cache[domain]
            if typo is not None:
                stats.note_typo(row, f"{domain} -> {typo}")
            if not akey.isascii():  # the rare address worth a look: never an ASCII one
                scripts = mixed_scripts(akey)
                if scripts is not None:
                    stats.note_mixed_scripts(row, akey, scripts)
        match_value = akey if key_at == email_at else key
        return (row, match_value, email, akey, status, *values)

    return check


def _erased_check(account: AccountInfo) -> Callable[[str], bool] | None:
    """Tell an erased address key, or None when the account has no erasures (then nothing is hashed)."""
    if not account.erased:
        return None
    erased, salt, account_id = account.erased, account.erasure_salt, account.id

    def is_erased(akey: str) -> bool:
        return erased_address_hash(salt, account_id, akey) in erased

    return is_erased


def _field_columns(settings: ImportSettings, account: AccountInfo, columns: list[str],
                   by_field: dict[str, int]) -> list[FieldColumn]:
    """List the staged fields' columns in staging order, each with its parser and its label."""
    found: list[FieldColumn] = []
    for f in staged_fields(settings, account):
        parse = _column_parser(f.type, settings.date_format)
        found.append((by_field[f.name], None if parse is None else {}, parse,
                      _column_label(columns, by_field[f.name])))
    return found


def _match_key(settings: ImportSettings, account: AccountInfo, columns: list[str],
               position: dict[str, int], email_at: int | None) -> MatchKey:
    """Find the column that holds the match key, the ID check (None by e-mail) and its label."""
    if settings.by_external_id:
        assert settings.match.column is not None and settings.match.link is not None
        pattern = account.links[settings.match.link].id_pattern
        return MatchKey(position[settings.match.column],
                        id_matcher(pattern) if pattern else None,
                        f"column '{settings.match.column}'")
    key_label = f"column '{columns[email_at]}'" if email_at is not None else "the e-mail column"
    return MatchKey(email_at, None, key_label)


NUL = "\x00"


def _nul_rejection(row: int, cells: list[str]) -> Rejection:
    """A row with a NUL byte: binary debris, which no text may hold (PostgreSQL cannot store it, and
    SQLite would pass it on). Past the sample detection reads, so it is found row by row; its cells
    are kept with U+FFFD for the NUL, so that the rejected row can be stored and shown."""
    columns = [str(at) for at, cell in enumerate(cells, 1) if NUL in cell]
    return Rejection(row, "malformed_row",
                     f"a NUL character (a binary byte) in cell{'s' if len(columns) > 1 else ''} "
                     f"{', '.join(columns)}; text cannot hold one",
                     [cell.replace(NUL, "\ufffd") for cell in cells])


def _column_parser(field_type: str, date_format: str | None) -> Callable[[str], Value] | None:
    """The parser of one column's cells (None for text: trimming is all). The row checker
    remembers what it gave per column (columns repeat their values: dates, flags, amounts)."""
    if field_type == "text":
        return None
    parse = value_parser(field_type, date_format=date_format)
    if field_type == "number":
        parse = _storable(parse)
    return parse


def _storable(parse: Callable[[str], Value]) -> Callable[[str], Value]:
    """Wrap a number parser so that both databases store its numbers alike.

    A float keeps 15 significant digits, as spreadsheets do and as SQLite writes JSON; a whole
    float becomes an int, so that "3,0" and "3" are one value and a re-import compares equal.
    Numbers SQLite cannot hold (its integers are 64-bit) are refused.
    """

    def parse_storable(text: str) -> Value:
        value = parse(text)
        assert isinstance(value, int | float)
        if abs(value) >= MAX_NUMBER:
            raise InvalidValue(said("'%(text)s' is too large a number to store", text=text))
        if type(value) is float:
            value = float(f"{value:.15g}")
            if value.is_integer():
                return int(value)
        return value

    return parse_storable


def _column_label(columns: list[str], at: int) -> str:
    return f"column '{columns[at]}'"


def parse_cell(text: str, field_type: str) -> Value:
    """Parse one trimmed, non-empty cell of a field as an import row's column would be parsed
    (for values that come one at a time, such as an edit of one contact)."""
    parse = _column_parser(field_type, None)
    return text if parse is None else parse(text)
