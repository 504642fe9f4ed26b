"""Fields: a label, as DESIGN.md's `POST /api/v1/fields {name, type, label?}` names it

Revision ID: 0011_field_label
Revises: 0010_user_language
Create Date: 2026-12-02 04:05:00

Only `down_revision` names another migration: the rest touches nothing another one adds.
"""

import sqlalchemy as sa
from alembic import op

revision = '0011_field_label'
down_revision = '0010_user_language'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('fields', schema=None) as batch_op:
        batch_op.add_column(sa.Column('label', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('fields', schema=None) as batch_op:
        batch_op.drop_column('label')
