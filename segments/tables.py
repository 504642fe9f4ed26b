"""The columns of the service's tables that segments read, described without the service's models.

The service owns the schema (its models and migrations); the segment engine only needs to name
these columns in SQLAlchemy expressions, so a lightweight description keeps it free of the service.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, column, table
from sqlalchemy.dialects.postgresql import JSONB

contacts = table(
    "contacts",
    column("id", Integer),
    column("account_id", Integer),
    column("dedup_mode", String),
    column("email", String),
    column("address_key", String),
    column("status", String),
    column("attributes", JSON().with_variant(JSONB(), "postgresql")),
    column("created_at", DateTime(timezone=True)),
    column("updated_at", DateTime(timezone=True)),
)

# The contacts' index on (account_id, address_key, status), as the service's models name it.
ADDRESS_INDEX = "ix_contacts_account_address_status"

external_ids = table(
    "external_ids",
    column("id", Integer),
    column("contact_id", Integer),
    column("link_id", Integer),
    column("value", String),
    column("merged", Boolean),
)

links = table(
    "links",
    column("id", Integer),
    column("account_id", Integer),
    column("name", String),
)

# What a change of the dedup rule records, so that it can be undone (see segments/merge.py).
dedup_merges = table(
    "dedup_merges",
    column("change_id", Integer),
    column("contact_id", Integer),
    column("survivor_id", Integer),
    column("contact", JSON().with_variant(JSONB(), "postgresql")),
    column("external_id_ids", JSON().with_variant(JSONB(), "postgresql")),
)

dedup_survivors = table(
    "dedup_survivors",
    column("change_id", Integer),
    column("contact_id", Integer),
    column("before", JSON().with_variant(JSONB(), "postgresql")),
    column("after", JSON().with_variant(JSONB(), "postgresql")),
)

# Every change of a contact's status, with its source (a merge or its undo, here).
status_history = table(
    "contact_status_history",
    column("account_id", Integer),
    column("contact_id", Integer),
    column("at", DateTime(timezone=True)),
    column("status_from", String),
    column("status_to", String),
    column("source", String),
    column("source_id", Integer),
)
