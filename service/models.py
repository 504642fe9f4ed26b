"""The database tables, as SQLModel classes, and the data models of the API.

One module holds every table so that Alembic and the tests see one metadata.
Contacts keep their typed attribute values in one JSON document (`attributes`): an account's
fields are defined at run time, and a document per contact lets an import write a contact in
one row and a segment read any field with one JSON lookup.

Primary keys are typed `int` although a new row has None until it is stored: the code works with
stored rows, and `int | None` would make every use of an id assert what the database guarantees.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import RootModel, StrictBool, StrictInt
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from importer.vocabulary import (
    ContactStatus,
    DedupMode,
    FieldType,
    ImportPhase,
    RejectionReason,
    StatusSource,
)
from segments.representative import RULES as REPRESENTATIVE_RULES

LINK_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
FIELD_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"
# Ids are 32-bit integers in PostgreSQL: a larger number names nothing (and must not reach SQL).
MAX_ID = 2**31 - 1



class Scope(StrEnum):
    """What an API key may do: campaign managers, the mailing system, support staff."""

    MANAGE = "manage"
    SEND = "send"
    ADMIN = "admin"


class ImportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class LedgerState(StrEnum):
    """A clearance in the send ledger: claimed by a check, then sent or released."""

    CLAIMED = "claimed"
    SENT = "sent"
    RELEASED = "released"


# The states that hold an address (or a contact) for a mailing.
ACTIVE_STATES = (LedgerState.CLAIMED, LedgerState.SENT)


class Verdict(StrEnum):
    SEND = "send"
    SKIP = "skip"


class SkipReason(StrEnum):
    """Why a check skips a recipient, in the order the reasons are tried (DESIGN.md)."""

    UNKNOWN_CONTACT = "unknown_contact"
    NOT_IN_MAILING = "not_in_mailing"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    ALREADY_CLAIMED = "already_claimed"
    DUPLICATE_ADDRESS = "duplicate_address"


# JSONB in PostgreSQL: compact, comparable by value, and indexable.
JsonDocument = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    """Return the current time in UTC (microsecond precision, as stored)."""
    return datetime.now(UTC)


class Account(SQLModel, table=True):
    __tablename__ = "accounts"
    # (id, dedup_mode) is the target of the contacts' foreign key that keeps their copy of the
    # mode in step; the partial unique index on contacts can then depend on the mode.
    __table_args__ = (UniqueConstraint("id", "dedup_mode", name="uq_accounts_id_mode"),)

    id: int = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(200), nullable=False, unique=True))
    dedup_mode: str = Field(default="email", sa_column=Column(String(20), nullable=False))
    last_import_link_id: int | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: int = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    scope: str = Field(sa_column=Column(String(20), nullable=False))
    prefix: str = Field(sa_column=Column(String(16), nullable=False))
    key_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    created_at: datetime = Field(default_factory=utcnow)
    # What the key is for ("mailing system", "Jan's laptop"); keys made before names were asked have none.
    name: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    # Written at most once a minute per key (service/domain/api_keys.py), not on every request.
    last_used_at: datetime | None = None
    # A revoked key is refused at its next use; the row stays, so that the list still shows it.
    revoked_at: datetime | None = None


class Link(SQLModel, table=True):
    __tablename__ = "links"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_links_account_name"),)

    id: int = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    name: str = Field(sa_column=Column(String(100), nullable=False))
    label: str = Field(sa_column=Column(String(200), nullable=False))
    id_pattern: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    created_at: datetime = Field(default_factory=utcnow)


class ContactField(SQLModel, table=True):
    __tablename__ = "fields"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_fields_account_name"),)

    id: int = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    name: str = Field(sa_column=Column(String(100), nullable=False))
    type: str = Field(sa_column=Column(String(20), nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    # What people call it (DESIGN.md's `POST /fields {name, type, label?}`); None: its name.
    label: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))


# On PostgreSQL, which checks a foreign key row by row (9 s of a million-row import), the keys
# marked so are triggers that check a statement's rows at once, with the same guarantees (migrations
# 0014_contacts_mode_check and 0015_external_ids_contact_check). SQLite keeps them as keys: there, one
# costs an index lookup.
BY_TRIGGER_ON_POSTGRESQL = {"by_trigger_on_postgresql": True}


def by_trigger_on_postgresql(constraint: object) -> bool:
    """Whether `constraint` is, on PostgreSQL, a trigger rather than the declared foreign key."""
    return bool(getattr(constraint, "info", {}).get("by_trigger_on_postgresql"))


class Contact(SQLModel, table=True):
    """A person in one account. On SQLite the workers also give the table generated columns
    (`f_<digest>`, VIRTUAL) with their indexes, for the fields that saved segments test
    (segments/field_indexes.py): no model names them, and a migration that rebuilds the table must
    leave them out (the workers add them again)."""

    __tablename__ = "contacts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["account_id", "dedup_mode"],
            ["accounts.id", "accounts.dedup_mode"],
            onupdate="CASCADE",
            name="fk_contacts_account_mode",
            info=BY_TRIGGER_ON_POSTGRESQL,
        ),
        # The database itself refuses a second contact at one address in an `email` account.
        Index(
            "uq_contacts_address_in_email_mode",
            "account_id",
            "address_key",
            unique=True,
            sqlite_where=text("dedup_mode = 'email'"),
            postgresql_where=text("dedup_mode = 'email'"),
        ),
        # Lookups by address, and previews that count by address from the index alone
        # (status included, so that leaving out unsubscribed and bounced needs no table read).
        Index("ix_contacts_account_address_status", "account_id", "address_key", "status"),
        # A bounce belongs to the address: every send asks "did anyone here bounce?", and the
        # few bounced contacts make this index small.
        Index("ix_contacts_bounced_address", "account_id", "address_key",
              sqlite_where=text("status = 'bounced'"), postgresql_where=text("status = 'bounced'")),
        # Everyone, a page at a time in id order (the contacts list and API without a filter).
        Index("ix_contacts_account_and_id", "account_id", "id"),
        # Ids are never reused, not even the highest after a delete: an undone merge brings
        # contacts back under their own ids.
        {"sqlite_autoincrement": True},
    )

    id: int = Field(default=None, primary_key=True)
    account_id: int = Field(nullable=False)
    # A copy of the account's mode, kept in step by the foreign key (ON UPDATE CASCADE), on
    # PostgreSQL by triggers that do the same.
    dedup_mode: str = Field(sa_column=Column(String(20), nullable=False))
    email: str = Field(sa_column=Column(String(320), nullable=False))
    address_key: str = Field(sa_column=Column(String(320), nullable=False))
    status: str = Field(default="active", sa_column=Column(String(20), nullable=False))
    attributes: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JsonDocument, nullable=False)
    )
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ExternalId(SQLModel, table=True):
    """A contact's ID in a linked system; `merged` marks IDs of contacts merged into it."""

    __tablename__ = "external_ids"
    __table_args__ = (
        UniqueConstraint("link_id", "value", name="uq_external_ids_link_value"),
        ForeignKeyConstraint(["link_id"], ["links.id"], info=BY_TRIGGER_ON_POSTGRESQL),
        ForeignKeyConstraint(["contact_id"], ["contacts.id"], info=BY_TRIGGER_ON_POSTGRESQL),
        # One own ID per link and contact; IDs inherited from merged contacts come on top.
        Index(
            "uq_external_ids_contact_link",
            "contact_id",
            "link_id",
            unique=True,
            sqlite_where=text("NOT merged"),
            postgresql_where=text("NOT merged"),
        ),
        # By contact, with the link and value: a rule on an external ID asks each contact for a
        # matching ID, and this answers from the index alone (migration 0016).
        Index("ix_external_ids_contact_link_value", "contact_id", "link_id", "value"),
    )

    id: int = Field(default=None, primary_key=True)
    # No foreign key to accounts: the contact's own key says whose it is, and on PostgreSQL every
    # key is checked row by row (a million imported IDs paid for the same check three times).
    account_id: int = Field(nullable=False)
    link_id: int = Field(nullable=False)
    # On PostgreSQL checked per statement, locking only the contacts that the inserting transaction
    # did not write itself (migration 0015): a first load's IDs name its own new contacts.
    contact_id: int = Field(nullable=False)
    value: str = Field(sa_column=Column(String(200), nullable=False))
    merged: bool = Field(default=False, nullable=False)


class ImportJob(SQLModel, table=True):
    __tablename__ = "imports"
    __table_args__ = (Index("ix_imports_status", "status"),)  # workers look for queued and running jobs

    id: int = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    status: str = Field(default="queued", sa_column=Column(String(20), nullable=False))
    filename: str = Field(default="", sa_column=Column(String(500), nullable=False))
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonDocument, nullable=False))
    dry_run: bool = Field(default=False)
    rows_done: int = Field(default=0)
    phase: str = Field(default="queued", sa_column=Column(String(20), nullable=False))
    report: dict[str, Any] | None = Field(default=None, sa_column=Column(JsonDocument, nullable=True))
    warnings: list[dict[str, Any]] | None = Field(
        default=None, sa_column=Column(JsonDocument, nullable=True)
    )
    error: str | None = Field(default=None, sa_column=Column(String(2000), nullable=True))
    # The error as importer.said's JSON (template and parameters): pages say it in their language.
    error_words: dict[str, Any] | None = Field(default=None, sa_column=Column(JsonDocument, nullable=True))
    # The file's column names, for the header of the rejected-rows download.
    columns: list[str] | None = Field(default=None, sa_column=Column(JsonDocument, nullable=True))
    # "host:pid" of the process that holds the job's lease (see service/domain/job_queue.py).
    worker: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    # The queue: the stored upload a worker reads (None: a command-line import, run where its file
    # is), the runs started so far, and until when the running worker's lease holds.
    upload_id: int | None = Field(default=None, foreign_key="uploads.id", ondelete="SET NULL")
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    lease_until: datetime | None = None


class Upload(SQLModel, table=True):
    """An uploaded file kept in the database (in `upload_chunks`) until its job or draft ends, so that
    any instance or worker can read it."""

    __tablename__ = "uploads"

    id: int = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    filename: str = Field(default="", sa_column=Column(String(500), nullable=False))
    size: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))  # None: still coming
    created_at: datetime = Field(default_factory=utcnow)


class UploadChunk(SQLModel, table=True):
    """One piece (about 1 MB) of an upload, in order by `seq`."""

    __tablename__ = "upload_chunks"

    upload_id: int = Field(foreign_key="uploads.id", primary_key=True, ondelete="CASCADE")
    seq: int = Field(primary_key=True)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class ImportRejection(SQLModel, table=True):
    """A rejected row of an import: its spreadsheet row number, reason and original cells."""

    __tablename__ = "import_rejections"
    __table_args__ = (Index("ix_import_rejections_import_row", "import_id", "row"),)

    id: int = Field(default=None, primary_key=True)
    import_id: int = Field(foreign_key="imports.id")
    row: int
    reason: str = Field(sa_column=Column(String(40), nullable=False))
    detail: str = Field(default="", sa_column=Column(String(1000), nullable=False))
    cells: list[str] = Field(default_factory=list, sa_column=Column(JsonDocument, nullable=False))


class Segment(SQLModel, table=True):
    """A named rule tree over an account's contacts."""

    __tablename__ = "segments"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_segments_account_name"),)

    id: int = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    name: str = Field(sa_column=Column(String(200), nullable=False))
    rules: dict[str, Any] = Field(sa_column=Column(JsonDocument, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class Mailing(SQLModel, table=True):
    """A send: include segments minus exclude segments, collapsed unless opted in.

    Its settings may change until a check first clears someone; then they are fixed, since the send
    ledger's slots depend on them (service/domain/mailings.py).
    """

    __tablename__ = "mailings"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_mailings_account_name"),)

    id: int = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    name: str = Field(sa_column=Column(String(200), nullable=False))
    include: list[int] = Field(sa_column=Column(JsonDocument, nullable=False))
    exclude: list[int] = Field(default_factory=list, sa_column=Column(JsonDocument, nullable=False))
    allow_shared_address: bool = Field(default=False)
    personalized_by: list[str] = Field(default_factory=list,
                                       sa_column=Column(JsonDocument, nullable=False))
    representative: dict[str, Any] = Field(sa_column=Column(JsonDocument, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


ACTIVE_CLEARANCE = text(f"state IN ({', '.join(repr(str(state)) for state in ACTIVE_STATES)})")


class LedgerEntry(SQLModel, table=True):
    """One clearance of a contact for a mailing: claimed, then sent or released.

    The database holds the send guarantees: while a clearance is active (claimed or sent), no
    other clearance of the mailing may take its slot (the address key, or the contact's own slot
    or personalisation with the opt-in) nor its contact. A released clearance frees both.
    """

    __tablename__ = "send_ledger"
    __table_args__ = (
        Index("uq_send_ledger_active_slot", "mailing_id", "slot", unique=True,
              sqlite_where=ACTIVE_CLEARANCE, postgresql_where=ACTIVE_CLEARANCE),
        Index("uq_send_ledger_active_contact", "mailing_id", "contact_id", unique=True,
              sqlite_where=ACTIVE_CLEARANCE, postgresql_where=ACTIVE_CLEARANCE),
        # The ledger's pages, in the order of the claims.
        Index("ix_send_ledger_mailing_id", "mailing_id", "id"),
    )

    id: int = Field(default=None, primary_key=True)
    # No foreign key: PostgreSQL would check it row by row, a fifth of a 10,000-contact check;
    # a mailing is deleted only while its ledger is empty, and the API only writes claims of the
    # key's own mailings.
    mailing_id: int = Field(nullable=False)
    # No foreign key: the ledger is history and outlives a contact merged away.
    contact_id: int = Field(nullable=False)
    address_key: str = Field(sa_column=Column(String(320), nullable=False))
    # The normalized address the clearance was given for: the mailing system sends to it, not to
    # whatever the contact's address is later. Null for claims made before it was kept; after an
    # erasure, address and address_key hold a one-way hash.
    address: str | None = Field(default=None, sa_column=Column(String(320), nullable=True))
    slot: str = Field(sa_column=Column(String(400), nullable=False))
    state: str = Field(default="claimed", sa_column=Column(String(20), nullable=False))
    claimed_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    released_at: datetime | None = None
    # The last event the mailing system reported for this clearance (a bounce, an unsubscribe).
    event: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    event_at: datetime | None = None


class CheckRequest(SQLModel, table=True):
    """A check sent with an Idempotency-Key: its body's hash and the answer, for replays."""

    __tablename__ = "check_requests"
    __table_args__ = (UniqueConstraint("mailing_id", "idempotency_key",
                                       name="uq_check_requests_mailing_key"),)

    id: int = Field(default=None, primary_key=True)
    mailing_id: int = Field(foreign_key="mailings.id")
    idempotency_key: str = Field(sa_column=Column(String(200), nullable=False))
    body_hash: str = Field(sa_column=Column(String(64), nullable=False))
    response: dict[str, Any] | None = Field(default=None, sa_column=Column(JsonDocument, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)


class DedupChange(SQLModel, table=True):
    """A change of an account's dedup rule by support staff, undoable once."""

    __tablename__ = "dedup_changes"

    id: int = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    from_mode: str = Field(sa_column=Column(String(20), nullable=False))
    to_mode: str = Field(sa_column=Column(String(20), nullable=False))
    link_id: int | None = Field(default=None, foreign_key="links.id")
    representative: dict[str, Any] = Field(sa_column=Column(JsonDocument, nullable=False))
    merged: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow)
    undone_at: datetime | None = None


class DedupMerge(SQLModel, table=True):
    """A contact merged away by a change: as it was, and which external IDs left with it."""

    __tablename__ = "dedup_merges"
    # Undo and the moving of IDs look merges up by change and contact.
    __table_args__ = (Index("ix_dedup_merges_change_contact", "change_id", "contact_id"),)

    id: int = Field(default=None, primary_key=True)
    change_id: int = Field(foreign_key="dedup_changes.id")
    contact_id: int = Field(nullable=False)
    survivor_id: int = Field(nullable=False)
    contact: dict[str, Any] = Field(sa_column=Column(JsonDocument, nullable=False))
    external_id_ids: list[int] = Field(default_factory=list, sa_column=Column(JsonDocument, nullable=False))


class DedupSurvivor(SQLModel, table=True):
    """A contact that others were merged into: its values before and right after the merge,
    so that undo restores only what has not changed since."""

    __tablename__ = "dedup_survivors"
    __table_args__ = (Index("ix_dedup_survivors_change", "change_id"),)

    id: int = Field(default=None, primary_key=True)
    change_id: int = Field(foreign_key="dedup_changes.id")
    contact_id: int = Field(nullable=False)
    before: dict[str, Any] = Field(sa_column=Column(JsonDocument, nullable=False))
    after: dict[str, Any] = Field(sa_column=Column(JsonDocument, nullable=False))


class EventType(StrEnum):
    """What the mailing system reports after a send (DESIGN.md, "Consent")."""

    UNSUBSCRIBE = "unsubscribe"
    COMPLAINT = "complaint"
    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCE = "soft_bounce"


class EventStatus(StrEnum):
    """How one reported event was taken."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    UNKNOWN_CONTACT = "unknown_contact"
    INVALID = "invalid"


class StatusChange(SQLModel, table=True):
    """One change of a contact's status: when, from what to what, and why (its `source`).

    Written by every path that changes a status (imports, events, the API, merges and their
    undo); erased with its contact.
    """

    __tablename__ = "contact_status_history"
    __table_args__ = (Index("ix_contact_status_history_contact", "contact_id", "id"),)

    id: int = Field(default=None, primary_key=True)
    account_id: int = Field(nullable=False)
    # No foreign key: history is written set-based beside imports and merges; an erasure
    # deletes it with the contact.
    contact_id: int = Field(nullable=False)
    at: datetime = Field(default_factory=utcnow)
    status_from: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    status_to: str = Field(sa_column=Column(String(20), nullable=False))
    source: str = Field(sa_column=Column(String(20), nullable=False))
    source_id: int | None = Field(default=None)
    detail: str | None = Field(default=None, sa_column=Column(String(1000), nullable=True))


class ContactEvent(SQLModel, table=True):
    """An event the mailing system reported, kept for idempotency and for counting soft bounces."""

    __tablename__ = "contact_events"
    __table_args__ = (
        # An event_id seen before in the account is a duplicate (events without one are not).
        Index("uq_contact_events_account_event_id", "account_id", "event_id", unique=True,
              sqlite_where=text("event_id IS NOT NULL"), postgresql_where=text("event_id IS NOT NULL")),
        # "The third soft bounce within 30 days": counted per address.
        Index("ix_contact_events_soft_bounces", "account_id", "address_key", "occurred_at",
              sqlite_where=text("type = 'soft_bounce'"), postgresql_where=text("type = 'soft_bounce'")),
    )

    id: int = Field(default=None, primary_key=True)
    # No foreign key: checked row by row, it was a third of inserting a batch on PostgreSQL; only
    # the API writes events, for its key's own account (as the send ledger's rows).
    account_id: int = Field(nullable=False)
    event_id: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    type: str = Field(sa_column=Column(String(20), nullable=False))
    contact_id: int | None = Field(default=None)
    # The address key the event applied to (a hash after an erasure).
    address_key: str | None = Field(default=None, sa_column=Column(String(320), nullable=True))
    mailing_id: int | None = Field(default=None)
    occurred_at: datetime = Field(default_factory=utcnow)
    received_at: datetime = Field(default_factory=utcnow)
    detail: str | None = Field(default=None, sa_column=Column(String(1000), nullable=True))


class Erasure(SQLModel, table=True):
    """An erased person's address, kept only as a salted hash so that it is not imported again."""

    __tablename__ = "erasures"
    __table_args__ = (Index("ix_erasures_account_hash", "account_id", "address_hash"),)

    id: int = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id")
    address_hash: str = Field(sa_column=Column(String(64), nullable=False))
    erased_at: datetime = Field(default_factory=utcnow)
    # Set when an admin lifted it: the address may be imported again.
    lifted_at: datetime | None = None


# --- API data models (request bodies and answers); the OpenAPI document is made from these ---


class RequestBody(SQLModel):
    """A JSON request body: no unknown keys, and its ids and flags strict (true is no contact id,
    "1" no number, 1 no yes), so that a client's mistake is a 400, not a silent guess."""

    model_config = {"extra": "forbid"}


class KeyCreate(RequestBody):
    name: str = Field(min_length=1, max_length=100, description='what the key is for, e.g. "mailing system"')
    scope: Scope = Field(description="what the key may do")


class KeyCreated(SQLModel):
    id: int
    name: str | None
    scope: Scope
    key: str = Field(description="the key itself, shown this once")
    created_at: datetime


class KeyPublic(SQLModel):
    id: int
    name: str | None
    scope: Scope
    prefix: str = Field(description="the key's first characters, to tell keys apart")
    created_at: datetime
    last_used_at: datetime | None = Field(description="the last use, to within a minute")
    revoked_at: datetime | None


class KeyList(SQLModel):
    keys: list[KeyPublic]


class LinkCreate(RequestBody):
    # `pattern` goes through schema_extra: SQLModel's own `regex=` is silently ignored under pydantic 2.
    name: str = Field(min_length=1, max_length=50, schema_extra={"pattern": LINK_NAME_PATTERN},
                      description="short lower-case name, e.g. crm")
    label: str = Field(min_length=1, max_length=200, description='e.g. "Customer number"')
    id_pattern: str | None = Field(default=None, max_length=500,
                                   description="a regular expression every ID must fully match")


class LinkPublic(SQLModel):
    id: int
    name: str
    label: str
    id_pattern: str | None = None


class FieldCreate(RequestBody):
    name: str = Field(min_length=1, max_length=63, schema_extra={"pattern": FIELD_NAME_PATTERN},
                      description="a letter, then letters, digits or _")
    type: FieldType = Field(description="the values' type")
    label: str | None = Field(default=None, min_length=1, max_length=200,
                              description='what people call it, e.g. "City of residence"')


class FieldPublic(SQLModel):
    id: int | None = None
    name: str
    type: FieldType
    label: str | None = None
    builtin: bool = False


class AccountPublic(SQLModel):
    id: int
    name: str
    dedup_mode: DedupMode
    links: list[LinkPublic]
    fields: list[FieldPublic]


class ImportProgress(SQLModel):
    rows_done: int
    phase: ImportPhase


class ImportReport(SQLModel):
    rows: int
    created: int
    created_shared_address: int
    updated: int
    unchanged: int
    skipped: int
    merged_in_file: int
    rejected: int
    rejected_by_reason: dict[str, int] = Field(
        schema_extra={"json_schema_extra": {"propertyNames": {"enum": list(RejectionReason)}}})
    # Of updated + unchanged: rows whose stored unsubscribed/bounced status the import kept
    # (0 in reports made before it was counted).
    status_kept: int = 0


class ImportWarning(SQLModel):
    code: str
    message: str
    count: int


class ImportPublic(SQLModel):
    id: int
    number: int | None = Field(default=None, description="the account's real imports counted 1, 2, 3, ...; "
                               "dry runs are not counted (null)")
    status: ImportStatus
    filename: str
    dry_run: bool
    settings: dict[str, Any]
    progress: ImportProgress
    report: ImportReport | None = None
    warnings: list[ImportWarning] = []
    error: str | None = None
    attempts: int = 0
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


class ImportList(SQLModel):
    imports: list[ImportPublic]
    next_cursor: int | None = None


class InspectionPublic(SQLModel):
    encoding: str
    delimiter: str
    has_header: bool
    columns: list[str]
    sample_rows: list[list[str]]
    # Column: field, by the link's last import (with ?link=), the fields' names and labels, and
    # the names exports use for common fields ("Voornaam", "Email Address"); existing fields only.
    suggested_mapping: dict[str, str]
    # With ?link=: the column that most likely holds the link's IDs (left out of suggested_mapping).
    suggested_id_column: str | None = None


class ContactPublic(SQLModel):
    id: int
    email: str
    address_key: str
    status: ContactStatus
    fields: dict[str, Any]
    external_ids: dict[str, str]
    merged_external_ids: dict[str, list[str]]
    created_at: datetime
    updated_at: datetime


class ContactList(SQLModel):
    contacts: list[ContactPublic]
    next_cursor: int | None = None


class ContactPatch(RequestBody):
    """An edit of one contact: only what is given changes (`status` is not edited here)."""

    model_config = {"extra": "forbid"}

    email: str | None = Field(default=None, max_length=320, description="the new address")
    fields: dict[str, Any] = Field(default_factory=dict,
                                   description="field name: its new value, or null to clear it")
    external_ids: dict[str, str | None] = Field(default_factory=dict,
                                                description="link name: the contact's new ID, or null "
                                                            "to remove it")


class Resubscription(RequestBody):
    consent: str = Field(max_length=1000, description="how the person gave consent again (recorded "
                                                      "in the history)")


class Unsubscription(RequestBody):
    detail: str | None = Field(default=None, max_length=1000, description="why, e.g. asked by phone")


class StatusChangePublic(SQLModel):
    at: datetime
    status_from: ContactStatus | None = Field(description="null: the contact was created so")
    status_to: ContactStatus
    source: StatusSource
    source_id: int | None = Field(default=None, description="the import's, event's or dedup change's id")
    detail: str | None = Field(default=None, description="the consent text, a bounce's reply, a note")


class ContactHistory(SQLModel):
    history: list[StatusChangePublic]


class ErasureLift(RequestBody):
    address: str = Field(min_length=1, max_length=320, description="the erased e-mail address")


class Lifted(SQLModel):
    lifted: int = Field(description="1 if the address was erased (it may be imported again), else 0")


class SegmentCreate(RequestBody):
    name: str = Field(min_length=1, max_length=200)
    rules: dict[str, Any] = Field(description='a rule tree: {"all": [...]}, {"any": [...]}, {"not": {...}}'
                                              ' or {"field", "op", "value"}; {"all": []} is everyone')


class SegmentChange(RequestBody):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    rules: dict[str, Any] | None = Field(default=None, description="a rule tree, as for a new segment; "
                                         "refused (409 in_use) while a mailing uses the segment")


class SegmentPublic(SQLModel):
    id: int
    name: str
    rules: dict[str, Any]
    created_at: datetime


class SegmentList(SQLModel):
    segments: list[SegmentPublic]


class SharedAddresses(SQLModel):
    model_config = {"populate_by_name": True}

    two: int = Field(alias="2", description="addresses shared by exactly 2 of the contacts")
    three: int = Field(alias="3")
    four_or_more: int = Field(alias="4+")


class PreviewPublic(SQLModel):
    contacts: int = Field(description="matching and mailable")
    excluded: int = Field(description="matching but unsubscribed or bounced")
    addresses: int = Field(description="distinct address keys among contacts")
    recipients: int = Field(description="after collapse")
    collapsed: int = Field(description="contacts - recipients")
    shared: SharedAddresses


class MailingPreviewPublic(PreviewPublic):
    claimed: int = Field(description="clearances not released (claimed or sent)")


class RecipientList(SQLModel):
    recipients: list[ContactPublic]
    next_cursor: int | None = None


class MailingCreate(RequestBody):
    name: str = Field(min_length=1, max_length=200)
    include: list[StrictInt] = Field(min_length=1, description="segment ids: the union is sent to")
    exclude: list[StrictInt] = Field(default_factory=list, description="segment ids left out")
    allow_shared_address: StrictBool = Field(default=False, description="the opt-in: each contact at a "
                                       "shared address gets its own copy")
    personalized_by: list[str] = Field(default_factory=list, description="with the opt-in: one copy "
                                       "per distinct combination of these fields at an address")
    representative: str | dict[str, Any] | None = Field(
        default=None, description="most_recently_updated (default), oldest, "
        '{"rule": "prefer", "when": <condition>} or {"rule": "prefer_non_empty", "field": <field>}')


class MailingPatch(RequestBody):
    """A change of a mailing before its first clearance: the parts given replace the stored ones."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    include: list[StrictInt] | None = Field(default=None, min_length=1,
                                            description="segment ids: the union is sent to")
    exclude: list[StrictInt] | None = Field(default=None, description="segment ids left out")
    allow_shared_address: StrictBool | None = Field(default=None, description="the opt-in")
    personalized_by: list[str] | None = Field(default=None, description="with the opt-in: one copy "
                                              "per distinct combination of these fields at an address")
    representative: str | dict[str, Any] | None = Field(default=None, description="as for a new mailing")


class MailingCopy(RequestBody):
    name: str | None = Field(
        default=None, min_length=1, max_length=200,
        description='the copy\'s name; default "Copy of <name>", with " (2)", ... when taken')


class MailingPublic(SQLModel):
    id: int
    name: str
    include: list[int]
    exclude: list[int]
    allow_shared_address: bool
    personalized_by: list[str]
    representative: dict[str, Any]
    created_at: datetime


class MailingList(SQLModel):
    mailings: list[MailingPublic]


# A batch's size is a setting (service/limits.py), so it is checked by the endpoint, not here.
BATCH_NOTE = "at most SAFEGUARD_MAX_BATCH items (default 10,000); more: 413 limit_exceeded"


class CheckBody(RequestBody):
    contacts: list[StrictInt] | None = Field(default=None, description=BATCH_NOTE)
    addresses: list[str] | None = Field(default=None, description=BATCH_NOTE)


class CheckResult(SQLModel):
    address: str | None = Field(default=None, description="on every send: the address the clearance "
                                "holds (send to it); on a skip of a check by address: the address asked")
    contact: int | None
    verdict: Verdict
    reason: SkipReason | None = None
    duplicate_of: int | None = None


class CheckResponse(SQLModel):
    results: list[CheckResult]


class ContactIds(RequestBody):
    contacts: list[StrictInt] = Field(description=BATCH_NOTE)


class Released(SQLModel):
    released: int


class Confirmed(SQLModel):
    confirmed: int


class LedgerEntryPublic(SQLModel):
    contact: int
    address_key: str
    address: str | None = Field(default=None, description="the address the clearance holds")
    state: LedgerState
    claimed_at: datetime
    sent_at: datetime | None = None
    released_at: datetime | None = None
    event: EventType | None = Field(default=None, description="the last event reported for it")
    event_at: datetime | None = None


class LedgerPublic(SQLModel):
    entries: list[LedgerEntryPublic]
    next_cursor: int | None = None


class EventIn(SQLModel):
    """One event the mailing system reports; checked one by one (a bad one is answered `invalid`)."""

    type: EventType
    contact: int | None = Field(default=None, description="the contact's id (or give address)")
    address: str | None = Field(default=None, description="the address (every contact at it)")
    mailing: int | None = Field(default=None, description="the mailing it came from: its ledger entry "
                                "for the contact notes the event")
    occurred_at: datetime | None = Field(default=None, description="ISO 8601; default now; not in the "
                                         "future")
    event_id: str | None = Field(default=None, max_length=200, description="the mailing system's id: "
                                 "one seen before in the account is a duplicate and changes nothing")
    detail: str | None = Field(default=None, max_length=1000, description="such as the SMTP reply")


class EventsBody(SQLModel):
    events: list[EventIn] = Field(description=BATCH_NOTE)


class EventResult(SQLModel):
    status: EventStatus
    message: str | None = Field(default=None, description="why an event is invalid")


class EventsResponse(SQLModel):
    results: list[EventResult] = Field(description="one per event, in request order")


class DedupApply(RequestBody):
    to: DedupMode
    link: str | None = Field(default=None, description="to external_id: the link whose IDs identify contacts")
    representative: str | dict[str, Any] | None = Field(
        default=None,
        description="to email: which contact of an address survives (default most_recently_updated)")


class DedupUndo(RequestBody):
    change_id: StrictInt


class RepresentativePublic(SQLModel):
    """A representative rule as stored and shown (DESIGN.md, "Segments and collapse")."""

    rule: str = Field(schema_extra={"json_schema_extra": {"enum": list(REPRESENTATIVE_RULES)}})
    when: Any = Field(default=None, description="for prefer: the condition")
    field: str | None = Field(default=None, description="for prefer_non_empty: the field")


class MergeConflict(SQLModel):
    field: str
    addresses: int = Field(description="shared addresses whose contacts disagree on the field")
    resolution: str


class MergingContact(SQLModel):
    id: int
    email: str
    status: ContactStatus
    fields: dict[str, Any]


class MergedValues(SQLModel):
    status: ContactStatus
    fields: dict[str, Any]


class MergeExample(SQLModel):
    address_key: str
    survivor: int = Field(description="the contact that stays")
    contacts: list[MergingContact]
    conflicts: list[str]
    after: MergedValues


class DedupPreviewByEmail(SQLModel):
    """What changing to email would merge."""

    to: DedupMode
    representative: RepresentativePublic
    shared_addresses: int
    contacts_before: int
    contacts_after: int
    merged_away: int
    conflicts: list[MergeConflict]
    examples: list[MergeExample]


class ContactExample(SQLModel):
    id: int
    email: str


class DedupPreviewByLink(SQLModel):
    """What changing to external_id would leave unmatched: the contacts without the link's ID."""

    to: DedupMode
    link: str
    contacts: int
    without_id: int
    examples: list[ContactExample]


class DedupPreview(RootModel[DedupPreviewByEmail | DedupPreviewByLink]):
    """The impact of a dedup change: by email (merges) or by a link (contacts without its ID)."""


class DedupApplied(SQLModel):
    model_config = {"populate_by_name": True}

    change_id: int
    from_mode: DedupMode = Field(alias="from")
    to: DedupMode
    merged: int = Field(description="contacts merged away")


class DedupUndone(SQLModel):
    change_id: int
    restored: int = Field(description="contacts brought back")
    dedup_mode: DedupMode = Field(description="the account's rule again")


class DedupChangePublic(DedupApplied):
    created_at: datetime
    undone_at: datetime | None


class DedupChangeList(SQLModel):
    changes: list[DedupChangePublic] = Field(description="latest first")


class ErrorDetail(SQLModel):
    code: str
    message: str


class ErrorBody(SQLModel):
    error: ErrorDetail


# --- the web pages: users, import drafts and the shared session secret (no API) -------------------


class User(SQLModel, table=True):
    """A person who signs in to the web pages; one account's, by e-mail address and password."""

    __tablename__ = "users"

    id: int = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    email: str = Field(sa_column=Column(String(320), nullable=False, unique=True))
    password_hash: str = Field(sa_column=Column(String(300), nullable=False))
    # Support staff: may apply and undo dedup-rule changes (as an `admin` key may).
    is_admin: bool = Field(default=False)
    # The pages' language ("nl" or "en"); None: the browser's Accept-Language decides.
    language: str | None = Field(default=None, sa_column=Column(String(8), nullable=True))
    created_at: datetime = Field(default_factory=utcnow)


class UserSession(SQLModel, table=True):
    """A signed-in browser: the cookie holds a random token, the database only its hash.

    A session is valid while its row exists, on every instance: signing out deletes it, a new
    password or a removed user deletes all of the user's (service/domain/user_sessions.py).
    """

    __tablename__ = "user_sessions"

    id: int = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    created_at: datetime = Field(default_factory=utcnow)


class RateEvent(SQLModel, table=True):
    """One event a limit counts (a failed sign-in, an upload) under its key, e.g. "sign_in:email:x".

    Kept in the database so that every instance counts the same events (service/domain/rate_limits.py).
    """

    __tablename__ = "rate_events"
    __table_args__ = (Index("ix_rate_events_key_at", "key", "at"),)

    id: int = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String(400), nullable=False))
    at: datetime = Field(default_factory=utcnow)


class ImportDraft(SQLModel, table=True):
    """The import wizard's state between its steps: the uploaded file and the choices so far.

    Kept in the database, not in the session cookie, so that a reload or another worker process
    sees the same choices, and a mapping of many columns does not outgrow a cookie.
    """

    __tablename__ = "import_drafts"

    id: int = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    user_id: int = Field(foreign_key="users.id")
    filename: str = Field(sa_column=Column(String(500), nullable=False))
    upload_id: int | None = Field(default=None, foreign_key="uploads.id", ondelete="SET NULL")
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonDocument, nullable=False))
    estimated_rows: int = Field(default=0)
    dry_run_id: int | None = Field(default=None, foreign_key="imports.id")
    import_id: int | None = Field(default=None, foreign_key="imports.id")
    created_at: datetime = Field(default_factory=utcnow)


class AppSecret(SQLModel, table=True):
    """A random secret shared by every process of the service (e.g. the session cookies' key)."""

    __tablename__ = "app_secrets"

    name: str = Field(sa_column=Column(String(50), primary_key=True))
    value: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
