"""Import settings: what the user chose in the wizard (or sent as JSON), checked up front."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from importer.id_patterns import IdPatternError, id_matcher
from importer.said import message_of, said
from importer.vocabulary import (
    BUILTIN_FIELDS,
    IMPORTABLE_BUILTINS,
    SERVICE_SET_FIELDS,
    FieldType,
    ImportMode,
    MatchBy,
)

FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")


class SettingsError(ValueError):
    """The settings cannot be used; the message says why, in words for the user."""


@dataclass(frozen=True)
class LinkInfo:
    id: int
    name: str
    id_pattern: str | None = None


@dataclass(frozen=True)
class AccountInfo:
    """What the importer needs to know of the account it imports into."""

    id: int
    dedup_mode: str
    fields: dict[str, str]  # name -> type
    links: dict[str, LinkInfo]
    last_import_link_id: int | None = None
    # The hashes of the account's erased addresses (usually none) and the salt they were made with.
    erased: frozenset[str] = frozenset()
    erasure_salt: str = ""


@dataclass(frozen=True)
class MatchRule:
    by: MatchBy
    link: str | None = None
    column: str | None = None


@dataclass(frozen=True)
class ImportSettings:
    match: MatchRule = MatchRule(MatchBy.EMAIL)
    mapping: dict[str, str] = field(default_factory=dict)  # column -> field
    create_fields: dict[str, str] = field(default_factory=dict)  # field -> type
    mode: ImportMode = ImportMode.UPSERT
    empty_clears: bool = False
    dry_run: bool = False
    delimiter: str | None = None
    encoding: str | None = None
    has_header: bool | None = None
    date_format: str | None = None

    @property
    def by_external_id(self) -> bool:
        return self.match.by == MatchBy.EXTERNAL_ID


def parse_settings(raw: Any) -> ImportSettings:
    """Turn the JSON settings object into ImportSettings, refusing what is malformed."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise SettingsError(said("settings must be a JSON object"))
    known = {"match", "mapping", "create_fields", "mode", "empty_clears", "dry_run", "delimiter",
             "encoding", "has_header", "date_format"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise SettingsError(said("unknown setting(s): %(unknown)s", unknown=', '.join(unknown)))
    return ImportSettings(
        match=_parse_match(raw.get("match", {"by": "email"})),
        mapping=_string_map(raw.get("mapping", {}), "mapping"),
        create_fields=_string_map(raw.get("create_fields", {}), "create_fields"),
        mode=ImportMode(_choice(raw.get("mode", "upsert"), tuple(ImportMode), "mode")),
        empty_clears=_flag(raw.get("empty_clears", False), "empty_clears"),
        dry_run=_flag(raw.get("dry_run", False), "dry_run"),
        delimiter=_optional_delimiter(raw.get("delimiter")),
        encoding=_optional_text(raw.get("encoding"), "encoding"),
        has_header=None if raw.get("has_header") is None else _flag(raw["has_header"], "has_header"),
        date_format=_optional_text(raw.get("date_format"), "date_format"),
    )


def check_against(settings: ImportSettings, account: AccountInfo, columns: list[str]) -> None:
    """Check the settings against the account's fields and links and the file's columns."""
    missing = [c for c in settings.mapping if c not in columns]
    if missing:
        raise SettingsError(
            said("mapping names column(s) not in the file: %(missing)s; the file has: %(columns)s",
                 missing=', '.join(missing), columns=', '.join(columns))
        )
    for name, type_ in settings.create_fields.items():
        if name in account.fields:
            raise SettingsError(said("create_fields: field '%(name)s' already exists", name=name))
        if name in BUILTIN_FIELDS:
            raise SettingsError(said("create_fields: '%(name)s' is a built-in field", name=name))
        if not FIELD_NAME.match(name):
            raise SettingsError(
                said("create_fields: '%(name)s' is not a valid field name (a letter, then letters, digits "
                     "or _; at most 63)", name=name)
            )
        if type_ not in tuple(FieldType):
            raise SettingsError(
                said("create_fields: type of '%(name)s' must be one of %(types)s",
                     name=name, types=', '.join(FieldType))
            )
    targets: dict[str, str] = {}
    for column, field_name in settings.mapping.items():
        if field_name in SERVICE_SET_FIELDS:
            raise SettingsError(said("mapping: '%(field_name)s' is set by the service and cannot be imported",
                                     field_name=field_name))
        if (field_name not in IMPORTABLE_BUILTINS and field_name not in account.fields
                and field_name not in settings.create_fields):
            raise SettingsError(
                said("mapping: column '%(column)s' is mapped to unknown field '%(field_name)s' (create it "
                     "first, or list it in create_fields)", column=column, field_name=field_name)
            )
        if field_name in targets:
            raise SettingsError(
                said("mapping: columns '%(targets)s' and '%(column)s' are both mapped to '%(field_name)s'",
                     targets=targets[field_name], column=column, field_name=field_name)
            )
        targets[field_name] = column
    match = settings.match
    if match.by == MatchBy.EMAIL:
        if "email" not in targets:
            raise SettingsError(said("matching by e-mail address needs a column mapped to the field 'email'"))
        return
    if match.link not in account.links:
        known = ", ".join(account.links) or "none"
        raise SettingsError(said("match: unknown link '%(link)s' (this account's links: %(known)s)",
                                 link=match.link, known=known))
    if match.column not in columns:
        raise SettingsError(said("match: column '%(column)s' is not in the file", column=match.column))
    pattern = account.links[match.link].id_pattern
    if pattern:
        try:  # a link made before patterns were compiled with RE2 may hold one it refuses
            id_matcher(pattern)
        except IdPatternError as error:
            raise SettingsError(said("the id_pattern of link '%(link)s' cannot be used: %(error)s; change "
                                     "the link's pattern", link=match.link, error=message_of(error))
                                ) from None


def _parse_match(raw: Any) -> MatchRule:
    if not isinstance(raw, dict):
        raise SettingsError(said('match must be an object such as {"by": "email"}'))
    by = MatchBy(_choice(raw.get("by", "email"), tuple(MatchBy), "match.by"))
    # A key the rule does not use is a mistake to point out (a link meant, by email chosen).
    allowed = {"by"} if by == MatchBy.EMAIL else {"by", "link", "column"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise SettingsError(said("match by %(by)s does not take: %(unknown)s",
                                 by=by, unknown=', '.join(map(str, unknown))))
    if by == MatchBy.EMAIL:
        return MatchRule(by)
    link, column = raw.get("link"), raw.get("column")
    if not isinstance(link, str) or not link:
        raise SettingsError(said("match by external_id needs 'link': the name of the linked system"))
    if not isinstance(column, str) or not column:
        raise SettingsError(said("match by external_id needs 'column': the column that holds the link's ID"))
    return MatchRule(by, link, column)


def _string_map(raw: Any, name: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise SettingsError(said("%(name)s must be an object of strings", name=name))
    return dict(raw)


def _choice(value: Any, choices: tuple[str, ...], name: str) -> str:
    if value not in choices:
        raise SettingsError(said("%(name)s must be one of %(choices)s",
                                 name=name, choices=', '.join(choices)))
    return str(value)


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise SettingsError(said("%(name)s must be true or false", name=name))
    return value


def _optional_text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise SettingsError(said("%(name)s must be a non-empty string", name=name))
    return value


def _optional_delimiter(value: Any) -> str | None:
    if value is None:
        return None
    if value in ("\\t", "tab"):
        return "\t"
    if not isinstance(value, str) or len(value) != 1:
        raise SettingsError(said('delimiter must be one character (",", ";", "\\t" or "|")'))
    return value
