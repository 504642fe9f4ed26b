# ruff: noqa: E501  (in the style alembic autogenerate writes)
"""dedup changes: the changes of an account's dedup rule, their merges and survivors

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 03:45:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('dedup_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('from_mode', sa.String(length=20), nullable=False),
    sa.Column('to_mode', sa.String(length=20), nullable=False),
    sa.Column('link_id', sa.Integer(), nullable=True),
    sa.Column('representative', JSON, nullable=False),
    sa.Column('merged', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('undone_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['link_id'], ['links.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('dedup_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dedup_changes_account_id'), ['account_id'], unique=False)

    op.create_table('dedup_merges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('change_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('survivor_id', sa.Integer(), nullable=False),
    sa.Column('contact', JSON, nullable=False),
    sa.Column('external_id_ids', JSON, nullable=False),
    sa.ForeignKeyConstraint(['change_id'], ['dedup_changes.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('dedup_merges', schema=None) as batch_op:
        batch_op.create_index('ix_dedup_merges_change_contact', ['change_id', 'contact_id'], unique=False)

    op.create_table('dedup_survivors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('change_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('before', JSON, nullable=False),
    sa.Column('after', JSON, nullable=False),
    sa.ForeignKeyConstraint(['change_id'], ['dedup_changes.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('dedup_survivors', schema=None) as batch_op:
        batch_op.create_index('ix_dedup_survivors_change', ['change_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('dedup_survivors', schema=None) as batch_op:
        batch_op.drop_index('ix_dedup_survivors_change')
    op.drop_table('dedup_survivors')
    with op.batch_alter_table('dedup_merges', schema=None) as batch_op:
        batch_op.drop_index('ix_dedup_merges_change_contact')
    op.drop_table('dedup_merges')
    with op.batch_alter_table('dedup_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dedup_changes_account_id'))
    op.drop_table('dedup_changes')
