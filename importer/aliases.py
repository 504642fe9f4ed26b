"""Column names that Dutch and English exports use, and the fields (or new fields) they suggest.

Names are compared normalised: without case, accents, spaces or punctuation ("E-mailadres",
"e mail adres" and "EmailAdres" are one name), so the tables below hold normalised names only.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from importer.vocabulary import IMPORTABLE_BUILTINS, FieldType


def normalise(name: str) -> str:
    """The name without case, accents, spaces or punctuation: "Geboorte-datum" -> "geboortedatum"."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(char for char in decomposed if char.isalnum())


@dataclass(frozen=True)
class CommonField:
    """A field many accounts have: the name and type it gets when created, and what exports call it."""

    name: str
    type: str
    aliases: tuple[str, ...]


COMMON_FIELDS = (
    CommonField("email", "text", ("emailadres", "emailadress", "emailaddress", "mail", "mailadres",
                                  "email", "emailaddres", "emailadresse")),
    CommonField("status", "text", ("status",)),
    CommonField("first_name", FieldType.TEXT, ("firstname", "voornaam", "givenname", "roepnaam",
                                               "forename", "voornamen")),
    CommonField("last_name", FieldType.TEXT, ("lastname", "achternaam", "surname", "familienaam",
                                              "familyname")),
    CommonField("infix", FieldType.TEXT, ("tussenvoegsel", "tussenvoegsels", "infix")),
    CommonField("city", FieldType.TEXT, ("city", "woonplaats", "plaats", "town", "stad", "plaatsnaam")),
    CommonField("postcode", FieldType.TEXT, ("postcode", "postalcode", "zipcode", "zip", "postcodes")),
    CommonField("street", FieldType.TEXT, ("street", "straat", "straatnaam", "streetname")),
    CommonField("house_number", FieldType.TEXT, ("housenumber", "huisnummer", "huisnr")),
    CommonField("country", FieldType.TEXT, ("country", "land")),
    CommonField("birth_date", FieldType.DATE, ("birthdate", "dateofbirth", "geboortedatum", "birthday",
                                               "verjaardag", "dob", "gebdatum")),
    CommonField("phone", FieldType.TEXT, ("phone", "telefoon", "telefoonnummer", "phonenumber",
                                          "telephone", "tel")),
    CommonField("mobile", FieldType.TEXT, ("mobile", "mobiel", "mobielnummer", "mobilephone",
                                           "mobilenumber", "gsm", "cellphone")),
    CommonField("gender", FieldType.TEXT, ("gender", "geslacht", "sex")),
    CommonField("company", FieldType.TEXT, ("company", "bedrijf", "bedrijfsnaam", "organisatie",
                                            "organisation", "organization", "companyname")),
)

# Column names that usually hold a linked system's ID (customer or member number), not a field.
ID_COLUMN_NAMES = frozenset((
    "klantnr", "klantnummer", "klantid", "klantcode", "customerid", "customernumber", "customerno",
    "customernr", "crmid", "relatienummer", "relatienr", "relatieid", "lidnummer", "lidnr", "memberid",
    "membernumber", "externalid", "debiteurnummer", "debiteurnr", "contactid", "id",
))


@dataclass(frozen=True)
class Suggestion:
    """A field for each column that fits one, and the new fields (name: type) that some of them need."""

    mapping: dict[str, str]
    create_fields: dict[str, str] = field(default_factory=dict)


def suggest(columns: list[str], fields: Mapping[str, str | None], *,
            previous: Mapping[str, str] | None = None, create: bool = False) -> Suggestion:
    """Suggest a field for each column: first the `previous` mapping (the link's last import) for
    columns of the same name, then a field whose name or label (`fields`: name -> label) matches
    the column's, then a common field the column's name is an alias of: the account's field that
    is also an alias of it, else (with `create`) a new field of the common name and type.

    Each field goes to one column at most; columns without a match are left out.
    """
    known = {name: name for name in IMPORTABLE_BUILTINS}
    for name in fields:
        known.setdefault(normalise(name), name)
    for name, label in fields.items():
        if label:
            known.setdefault(normalise(label), name)
    mapping: dict[str, str] = {}
    created: dict[str, str] = {}

    def take(column: str, name: str | None) -> None:
        if name is not None and column not in mapping and name not in mapping.values():
            mapping[column] = name

    for column, name in (previous or {}).items():
        if column in columns and (name in fields or name in IMPORTABLE_BUILTINS):
            take(column, name)
    for column in columns:
        take(column, known.get(normalise(column)))
    for column in columns:
        common = _common_field(column)
        if common is None or column in mapping:
            continue
        existing = next((known[alias] for alias in (normalise(common.name), *common.aliases)
                         if alias in known), None)
        if existing is not None:
            take(column, existing)
        elif create and common.name not in mapping.values():
            mapping[column] = common.name
            created[common.name] = common.type
    ordered = {column: mapping[column] for column in columns if column in mapping}
    return Suggestion(ordered, {name: type_ for name, type_ in created.items() if name in ordered.values()})


def _common_field(column: str) -> CommonField | None:
    wanted = normalise(column)
    return next((common for common in COMMON_FIELDS
                 if wanted in common.aliases or wanted == normalise(common.name)), None)


def looks_like_id_column(column: str) -> bool:
    """Whether the column's name is one that usually holds a customer or member number."""
    return normalise(column) in ID_COLUMN_NAMES

