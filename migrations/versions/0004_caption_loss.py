"""caption loss: the captioners table and samples.caption_loss

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 10:00:00

`samples.caption_loss` is a plain nullable column, added and dropped in place (SQLite's ALTER TABLE
ADD/DROP COLUMN): rebuilding `samples` on SQLite would run an implicit DELETE that cascades to its ratings.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('captioners',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('path', sa.String(length=1000), nullable=False),
    sa.Column('vae_file', sa.String(length=1000), nullable=False),
    sa.Column('tokenizer_file', sa.String(length=1000), nullable=False),
    sa.Column('dataset', sa.String(length=200), nullable=False),
    sa.Column('train_pairs', sa.Integer(), nullable=False),
    sa.Column('val_pairs', sa.Integer(), nullable=False),
    sa.Column('steps', sa.Integer(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('train_loss', sa.Float(), nullable=True),
    sa.Column('val_loss_own', sa.Float(), nullable=True),
    sa.Column('val_loss_other', sa.Float(), nullable=True),
    sa.Column('val_share_lower', sa.Float(), nullable=True),
    sa.Column('code_version', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(name) > 0', name=op.f('captioners_name_not_empty_ck')),
    sa.CheckConstraint('steps >= 0 AND train_pairs > 0 AND val_pairs >= 0', name=op.f('captioners_counts_ck')),
    sa.PrimaryKeyConstraint('id', name=op.f('captioners_pk')),
    sa.UniqueConstraint('name', name=op.f('captioners_name_uq'))
    )
    op.create_index('ix_captioners_vae_file_tokenizer_file', 'captioners', ['vae_file', 'tokenizer_file'], unique=False)
    op.add_column('samples', sa.Column('caption_loss', sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column('samples', 'caption_loss')
    op.drop_index('ix_captioners_vae_file_tokenizer_file', table_name='captioners')
    op.drop_table('captioners')
