"""How the pages name a field: its label, else the words for a common field (importer/aliases.py
creates them under these names), else its name."""

from __future__ import annotations

from typing import Any

from service.words import lazy_gettext

COMMON_FIELD_WORDS = {
    "first_name": lazy_gettext("First name"), "last_name": lazy_gettext("Last name"),
    "infix": lazy_gettext("Surname prefix"), "city": lazy_gettext("City"),
    "postcode": lazy_gettext("Postcode"), "street": lazy_gettext("Street"),
    "house_number": lazy_gettext("House number"), "country": lazy_gettext("Country"),
    "birth_date": lazy_gettext("Date of birth"), "phone": lazy_gettext("Phone"),
    "mobile": lazy_gettext("Mobile"), "gender": lazy_gettext("Gender"), "company": lazy_gettext("Company"),
}


def field_label(field: Any) -> str:
    """A field's (anything with `name` and `label`) name for people, in the page's language."""
    return str(getattr(field, "label", None) or COMMON_FIELD_WORDS.get(field.name) or field.name)


def label_of_name(name: str, labels: dict[str, str | None]) -> str:
    """The same for a field known by its name, with `labels` the account's (name: label)."""
    return str(labels.get(name) or COMMON_FIELD_WORDS.get(name) or name)
