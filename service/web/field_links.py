"""Step 5 of the import wizard: which field each column goes to, or a new field, or none."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from importer.aliases import suggest
from importer.said import message_of
from importer.settings import AccountInfo, SettingsError, check_against, parse_settings
from service.http_errors import in_words
from service.words import gettext

NEW_FIELD = "__new__"  # the drop-down's value for "a new field…"


@dataclass(frozen=True)
class FieldChoice:
    """One column's row on the page: the choice in its drop-down and its new-field inputs."""

    index: int
    column: str
    choice: str  # "" (ignore), a field's name, or NEW_FIELD
    new_name: str
    type: str

    @property
    def field(self) -> str:
        return self.new_name if self.choice == NEW_FIELD else self.choice


def from_settings(settings: Mapping[str, Any], columns: list[str], id_column: str | None,
                  fields: Mapping[str, str | None],
                  previous: Mapping[str, str] | None = None) -> list[FieldChoice]:
    """The saved choices, or else a suggestion (importer/aliases.py): the link's `previous` mapping,
    the `fields` (name: label) by name or label, common fields by the names exports give them, new
    ones included. The ID column is not a field."""
    create = settings.get("create_fields", {})
    mapping = settings.get("mapping")
    if mapping is None:
        suggestion = suggest([c for c in columns if c != id_column], fields, previous=previous,
                             create=True)
        mapping, create = suggestion.mapping, suggestion.create_fields
    choices = []
    for index, column in enumerate(columns):
        name = mapping.get(column, "")
        new = name in create
        choices.append(FieldChoice(index, column, NEW_FIELD if new else name,
                                   name if new else field_name_for(column), create.get(name, "text")))
    return choices


def from_form(form: Mapping[str, str], columns: list[str], id_column: str | None) -> list[FieldChoice]:
    return [FieldChoice(index, column,
                        "" if column == id_column else form.get(f"field_{index}", ""),
                        form.get(f"new_name_{index}", "").strip(), form.get(f"new_type_{index}", "text"))
            for index, column in enumerate(columns)]


def settings_of(choices: list[FieldChoice]) -> tuple[dict[str, str], dict[str, str]]:
    """The import's `mapping` and `create_fields` for these choices."""
    mapping = {c.column: c.field for c in choices if c.choice}
    create = {c.new_name: c.type for c in choices if c.choice == NEW_FIELD}
    return mapping, create


def problem(choices: list[FieldChoice], settings: Mapping[str, Any], account: AccountInfo,
            columns: list[str]) -> str | None:
    """What is wrong with the choices, in words for the page, or None."""
    new = [c for c in choices if c.choice == NEW_FIELD]
    for choice in new:
        if not choice.new_name:
            return gettext("Give the new field for the column '%(column)s' a name.", column=choice.column)
    if len({c.new_name for c in new}) < len(new):
        return gettext("Two columns would create a new field of the same name.")
    mapping, create = settings_of(choices)
    try:
        check_against(parse_settings({**settings, "mapping": mapping, "create_fields": create}),
                      account, columns)
    except SettingsError as error:
        return in_words(message_of(error))
    return None


def field_name_for(column: str) -> str:
    """A field name made from a column name ("Geboorte datum" -> "geboorte_datum")."""
    name = "".join(c if c.isalnum() else "_" for c in column.strip().lower()).strip("_")
    while "__" in name:
        name = name.replace("__", "_")
    return name if name[:1].isalpha() else f"field_{name}".rstrip("_")
