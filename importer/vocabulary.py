"""The words of contact data that the whole product shares, each spelled once.

The importer writes contacts, so it owns what a contact is made of: field types, statuses, how an
account deduplicates, and the built-in fields. The segment engine and the service import these
names; nothing else spells the values out. (Membership is tested against `tuple(Enum)`: on
Python 3.11, `"x" in SomeEnum` raises for a plain string.)
"""

from __future__ import annotations

from enum import StrEnum


class FieldType(StrEnum):
    """The type of an account's own field."""

    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    BOOLEAN = "boolean"


class ContactStatus(StrEnum):
    """Whether a contact may be mailed; a bounce belongs to the address."""

    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"


class DedupMode(StrEnum):
    """How an account deduplicates its contacts."""

    EMAIL = "email"
    EXTERNAL_ID = "external_id"


class MatchBy(StrEnum):
    """What an import matches its rows to contacts by."""

    EMAIL = "email"
    EXTERNAL_ID = "external_id"


class ImportMode(StrEnum):
    """Which rows an import writes: new and existing contacts, only new, or only existing."""

    UPSERT = "upsert"
    CREATE_ONLY = "create_only"
    UPDATE_ONLY = "update_only"


class RejectionReason(StrEnum):
    """Why an import row changed nothing (DESIGN.md, "Import")."""

    MALFORMED_ROW = "malformed_row"
    MISSING_KEY = "missing_key"
    MISSING_EMAIL = "missing_email"
    INVALID_EMAIL = "invalid_email"
    INVALID_EXTERNAL_ID = "invalid_external_id"
    INVALID_VALUE = "invalid_value"
    ADDRESS_CONFLICT = "address_conflict"
    ID_CONFLICT = "id_conflict"
    AMBIGUOUS_ADDRESS = "ambiguous_address"
    # The address belongs to a person who asked to be forgotten (until an admin lifts it).
    ERASED_ADDRESS = "erased_address"


class StatusSource(StrEnum):
    """What changed a contact's status, as its history records it (DESIGN.md, "Consent")."""

    IMPORT = "import"
    EVENT = "event"
    API = "api"
    MERGE = "merge"
    UNDO = "undo"


class ImportPhase(StrEnum):
    """Where an import is: waiting, reading (and checking) the file, applying it, or done."""

    QUEUED = "queued"
    READING = "reading"
    APPLYING = "applying"
    DONE = "done"


# Built-in fields: every account has them, with these types (the segment engine refines them:
# `status` compares as a status, the two moments as timestamps). An import may set the first two;
# the service sets the others.
BUILTIN_FIELDS: dict[str, FieldType] = {
    "email": FieldType.TEXT,
    "status": FieldType.TEXT,
    "created_at": FieldType.DATE,
    "updated_at": FieldType.DATE,
}
IMPORTABLE_BUILTINS = ("email", "status")
SERVICE_SET_FIELDS = ("created_at", "updated_at")
