"""Consent: status history, the mailing system's events, erasures, and the address a clearance holds

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 00:19:52.431861
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

SOFT_BOUNCES = {"sqlite_where": sa.text("type = 'soft_bounce'"),
                "postgresql_where": sa.text("type = 'soft_bounce'")}
WITH_EVENT_ID = {"sqlite_where": sa.text("event_id IS NOT NULL"),
                 "postgresql_where": sa.text("event_id IS NOT NULL")}


def upgrade() -> None:
    op.create_table('contact_status_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status_from', sa.String(length=20), nullable=True),
    sa.Column('status_to', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.String(length=1000), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('contact_status_history', schema=None) as batch_op:
        batch_op.create_index('ix_contact_status_history_contact', ['contact_id', 'id'], unique=False)

    op.create_table('contact_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=200), nullable=True),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('address_key', sa.String(length=320), nullable=True),
    sa.Column('mailing_id', sa.Integer(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('detail', sa.String(length=1000), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('contact_events', schema=None) as batch_op:
        batch_op.create_index('ix_contact_events_soft_bounces', ['account_id', 'address_key', 'occurred_at'],
                              unique=False, **SOFT_BOUNCES)
        batch_op.create_index('uq_contact_events_account_event_id', ['account_id', 'event_id'],
                              unique=True, **WITH_EVENT_ID)

    op.create_table('erasures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('address_hash', sa.String(length=64), nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lifted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('erasures', schema=None) as batch_op:
        batch_op.create_index('ix_erasures_account_hash', ['account_id', 'address_hash'], unique=False)

    with op.batch_alter_table('send_ledger', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address', sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column('event', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('event_at', sa.DateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('send_ledger', schema=None) as batch_op:
        batch_op.drop_column('event_at')
        batch_op.drop_column('event')
        batch_op.drop_column('address')

    with op.batch_alter_table('erasures', schema=None) as batch_op:
        batch_op.drop_index('ix_erasures_account_hash')

    op.drop_table('erasures')
    with op.batch_alter_table('contact_events', schema=None) as batch_op:
        batch_op.drop_index('uq_contact_events_account_event_id', **WITH_EVENT_ID)
        batch_op.drop_index('ix_contact_events_soft_bounces', **SOFT_BOUNCES)

    op.drop_table('contact_events')
    with op.batch_alter_table('contact_status_history', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_status_history_contact')

    op.drop_table('contact_status_history')
