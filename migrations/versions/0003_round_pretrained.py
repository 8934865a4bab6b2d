"""segmentation_rounds.encoder_pretrained: whether the round's encoder started from ImageNet weights

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'  # re-chained onto main's 0002 when main was merged in
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('segmentation_rounds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('encoder_pretrained', sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('segmentation_rounds', schema=None) as batch_op:
        batch_op.drop_column('encoder_pretrained')
