"""Consent speed: events without a foreign key to their account; contacts indexed by (account, id)

Revision ID: 0012_consent_speed
Revises: 0011_field_label
Create Date: 2026-12-02 04:00:00

- contact_events.account_id loses its foreign key: checked row by row, it was a third of
  inserting a batch of 10,000 events on PostgreSQL. Only the API writes events, always for the
  key's own account (the send ledger has no such key either).
- contacts gets an index on (account_id, id): a page of everyone (GET /api/v1/contacts without a
  filter, in id order) reads its rows from there instead of sorting the whole account.
"""

import sqlalchemy as sa
from alembic import op

revision = '0012_consent_speed'
down_revision = '0011_field_label'
branch_labels = None
depends_on = None

# SQLite's foreign key has no name: the batch (which copies the table) gives it this one.
NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
SQLITE_FK = "fk_contact_events_account_id_accounts"
EVENT_INDEXES = [
    ('ix_contact_events_soft_bounces', ['account_id', 'address_key', 'occurred_at'], False,
     "type = 'soft_bounce'"),
    ('uq_contact_events_account_event_id', ['account_id', 'event_id'], True, "event_id IS NOT NULL"),
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for fk in sa.inspect(op.get_bind()).get_foreign_keys('contact_events'):
            op.drop_constraint(str(fk["name"]), 'contact_events', type_='foreignkey')  # PostgreSQL names it
    else:
        _drop_event_indexes()  # the batch's copy would not keep their WHERE clauses
        with op.batch_alter_table('contact_events', naming_convention=NAMES, recreate='always') as batch_op:
            batch_op.drop_constraint(SQLITE_FK, type_='foreignkey')
        _create_event_indexes()
    op.create_index('ix_contacts_account_and_id', 'contacts', ['account_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_contacts_account_and_id', table_name='contacts')
    if op.get_bind().dialect.name == "postgresql":
        op.create_foreign_key(None, 'contact_events', 'accounts', ['account_id'], ['id'])
    else:
        _drop_event_indexes()
        with op.batch_alter_table('contact_events', naming_convention=NAMES, recreate='always') as batch_op:
            batch_op.create_foreign_key(SQLITE_FK, 'accounts', ['account_id'], ['id'])
        _create_event_indexes()


def _drop_event_indexes() -> None:
    for name, _columns, _unique, _where in EVENT_INDEXES:
        op.drop_index(name, table_name='contact_events')


def _create_event_indexes() -> None:
    for name, columns, unique, where in EVENT_INDEXES:
        op.create_index(name, 'contact_events', columns, unique=unique,
                        sqlite_where=sa.text(where), postgresql_where=sa.text(where))
