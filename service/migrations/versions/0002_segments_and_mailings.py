# ruff: noqa: E501  (written by alembic autogenerate)
"""segments, mailings, the send ledger and idempotent checks

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 03:16:03.430446
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mailings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('include', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('exclude', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('allow_shared_address', sa.Boolean(), nullable=False),
    sa.Column('personalized_by', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('representative', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_id', 'name', name='uq_mailings_account_name')
    )
    with op.batch_alter_table('mailings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mailings_account_id'), ['account_id'], unique=False)

    op.create_table('segments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('rules', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_id', 'name', name='uq_segments_account_name')
    )
    with op.batch_alter_table('segments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_segments_account_id'), ['account_id'], unique=False)

    op.create_table('check_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mailing_id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('body_hash', sa.String(length=64), nullable=False),
    sa.Column('response', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['mailing_id'], ['mailings.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('mailing_id', 'idempotency_key', name='uq_check_requests_mailing_key')
    )
    op.create_table('send_ledger',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mailing_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('address_key', sa.String(length=320), nullable=False),
    sa.Column('slot', sa.String(length=400), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('send_ledger', schema=None) as batch_op:
        batch_op.create_index('ix_send_ledger_mailing_id', ['mailing_id', 'id'], unique=False)
        batch_op.create_index('uq_send_ledger_active_contact', ['mailing_id', 'contact_id'], unique=True, sqlite_where=sa.text("state IN ('claimed', 'sent')"), postgresql_where=sa.text("state IN ('claimed', 'sent')"))
        batch_op.create_index('uq_send_ledger_active_slot', ['mailing_id', 'slot'], unique=True, sqlite_where=sa.text("state IN ('claimed', 'sent')"), postgresql_where=sa.text("state IN ('claimed', 'sent')"))

    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_contacts_account_address')
        batch_op.create_index('ix_contacts_account_address_status', ['account_id', 'address_key', 'status'], unique=False)
        batch_op.create_index('ix_contacts_bounced_address', ['account_id', 'address_key'], unique=False, sqlite_where=sa.text("status = 'bounced'"), postgresql_where=sa.text("status = 'bounced'"))



def downgrade() -> None:
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_contacts_bounced_address', sqlite_where=sa.text("status = 'bounced'"), postgresql_where=sa.text("status = 'bounced'"))
        batch_op.drop_index('ix_contacts_account_address_status')
        batch_op.create_index('ix_contacts_account_address', ['account_id', 'address_key'], unique=False)

    with op.batch_alter_table('send_ledger', schema=None) as batch_op:
        batch_op.drop_index('uq_send_ledger_active_slot', sqlite_where=sa.text("state IN ('claimed', 'sent')"), postgresql_where=sa.text("state IN ('claimed', 'sent')"))
        batch_op.drop_index('uq_send_ledger_active_contact', sqlite_where=sa.text("state IN ('claimed', 'sent')"), postgresql_where=sa.text("state IN ('claimed', 'sent')"))
        batch_op.drop_index('ix_send_ledger_mailing_id')

    op.drop_table('send_ledger')
    op.drop_table('check_requests')
    with op.batch_alter_table('segments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_segments_account_id'))

    op.drop_table('segments')
    with op.batch_alter_table('mailings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mailings_account_id'))

    op.drop_table('mailings')
