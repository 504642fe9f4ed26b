"""Import jobs: the error's words (its template and parameters), so pages say it in their language

Revision ID: 0013_job_error_words
Revises: 0012_consent_speed
Create Date: 2026-12-02 08:40:00

`error` keeps the English sentence the API answers; `error_words` is the same message as
importer.said's JSON (null for jobs that failed before this revision: pages show their English).
Only `down_revision` names another migration: the rest touches nothing another one adds.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0013_job_error_words'
down_revision = '0012_consent_speed'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('imports', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'error_words', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
            nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('imports', schema=None) as batch_op:
        batch_op.drop_column('error_words')
