"""The external IDs' contact index also holds the link and the value

Revision ID: 0016_external_ids_covering
Revises: 0015_external_ids_contact_check
Create Date: 2026-12-03 07:00:00

A rule on an external ID (`external_id.crm starts_with "1"`) asks, for each contact, whether it has
a matching ID of that link: a lookup by contact that then read the ID's row for its link and value.
With both in the index the lookup reads the index alone: a SQLite preview of such a rule over a
million contacts took 0.98 s, now 0.55 s (benchmarks/README.md, "Previews, fifth round"). The new
index serves everything the old one (contact_id alone) did, the key's checks included.
"""

from alembic import op

revision = '0016_external_ids_covering'
down_revision = '0015_external_ids_contact_check'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_external_ids_contact_link_value", "external_ids", ["contact_id", "link_id", "value"])
    op.drop_index("ix_external_ids_contact_id", table_name="external_ids")


def downgrade() -> None:
    op.create_index("ix_external_ids_contact_id", "external_ids", ["contact_id"])
    op.drop_index("ix_external_ids_contact_link_value", table_name="external_ids")
