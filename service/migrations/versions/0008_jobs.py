"""Jobs: uploads kept in the database, and import jobs queued with a worker's lease and attempts

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 00:50:00

Only `down_revision` names another migration: the rest touches nothing another one adds.
A wizard draft kept a local path; drafts not yet imported are forgotten (their files are on one
host's disk, which another instance cannot read), and the column goes.
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('uploads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=500), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_uploads_account_id'), ['account_id'], unique=False)

    op.create_table('upload_chunks',
    sa.Column('upload_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('upload_id', 'seq')
    )

    with op.batch_alter_table('imports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('upload_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key('fk_imports_upload_id', 'uploads', ['upload_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_index('ix_imports_status', ['status'], unique=False)
    # Runs started before the queue counted them: a finished or running job had one.
    op.execute("UPDATE imports SET attempts = 1 WHERE status <> 'queued'")

    op.execute("DELETE FROM import_drafts WHERE import_id IS NULL")
    with op.batch_alter_table('import_drafts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('upload_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_import_drafts_upload_id', 'uploads', ['upload_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.drop_column('path')


def downgrade() -> None:
    op.execute("DELETE FROM import_drafts WHERE import_id IS NULL")
    with op.batch_alter_table('import_drafts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('path', sa.String(length=1000), nullable=False, server_default=''))
        batch_op.drop_constraint('fk_import_drafts_upload_id', type_='foreignkey')
        batch_op.drop_column('upload_id')
    with op.batch_alter_table('imports', schema=None) as batch_op:
        batch_op.drop_index('ix_imports_status')
        batch_op.drop_constraint('fk_imports_upload_id', type_='foreignkey')
        batch_op.drop_column('lease_until')
        batch_op.drop_column('attempts')
        batch_op.drop_column('upload_id')
    op.drop_table('upload_chunks')
    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_uploads_account_id'))
    op.drop_table('uploads')
