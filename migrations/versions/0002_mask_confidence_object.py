"""masks.confidence_boundary → masks.confidence_object (the column holds the "object" score)

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("masks") as batch:
        batch.alter_column("confidence_boundary", new_column_name="confidence_object")


def downgrade() -> None:
    with op.batch_alter_table("masks") as batch:
        batch.alter_column("confidence_object", new_column_name="confidence_boundary")
