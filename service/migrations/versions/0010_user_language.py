"""users.language: the language a user chose for the pages (none: the browser's Accept-Language)

Revision ID: 0010_user_language
Revises: 0009_sign_in_safety
Create Date: 2026-12-02 03:45:00

Only `down_revision` names another migration: the rest touches nothing another one adds.
"""

import sqlalchemy as sa
from alembic import op

revision = '0010_user_language'
down_revision = '0009_sign_in_safety'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('language')
