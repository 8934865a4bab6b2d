"""blind rating (issue 15): skips and silent repeats, grid ratings, artifact flags apart from ratings,
a rating design per run (overlap, target raters, queue policy, hold-back minimums), reference examples

Revision ID: 0005
Revises: 0006
Create Date: 2026-12-01 21:33:08.859930
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rating_designs',
    sa.Column('run_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('queue', sa.String(length=10), nullable=False),
    sa.Column('overlap_share', sa.Float(), nullable=False),
    sa.Column('target_raters', sa.Integer(), nullable=False),
    sa.Column('repeats', sa.Integer(), nullable=False),
    sa.Column('min_overlap_raters', sa.Integer(), nullable=False),
    sa.Column('min_rated_per_checkpoint', sa.Integer(), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("queue IN ('uniform', 'adaptive')", name=op.f('rating_designs_queue_ck')),
    sa.CheckConstraint('min_overlap_raters >= 2', name=op.f('rating_designs_min_overlap_raters_ck')),
    sa.CheckConstraint('min_rated_per_checkpoint >= 2', name=op.f('rating_designs_min_rated_per_checkpoint_ck')),
    sa.CheckConstraint('overlap_share >= 0 AND overlap_share <= 1', name=op.f('rating_designs_overlap_share_ck')),
    sa.CheckConstraint('repeats >= 0', name=op.f('rating_designs_repeats_ck')),
    sa.CheckConstraint('target_raters >= 1', name=op.f('rating_designs_target_raters_ck')),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('rating_designs_run_id_fk'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by'], ['raters.id'], name=op.f('rating_designs_updated_by_fk'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('run_id', name=op.f('rating_designs_pk'))
    )
    op.create_table('reference_examples',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('criterion', sa.String(length=20), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('image_sha256', sa.String(length=64), nullable=False),
    sa.Column('rater_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("criterion IN ('generality', 'emoji_style', 'quality')", name=op.f('reference_examples_criterion_ck')),
    sa.CheckConstraint('level IN (1, 5)', name=op.f('reference_examples_level_ck')),
    sa.ForeignKeyConstraint(['image_sha256'], ['images.sha256'], name=op.f('reference_examples_image_sha256_fk'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['rater_id'], ['raters.id'], name=op.f('reference_examples_rater_id_fk'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('reference_examples_pk')),
    sa.UniqueConstraint('criterion', 'level', 'image_sha256', name=op.f('reference_examples_criterion_level_image_sha256_uq'))
    )
    op.create_table('grid_ratings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rater_id', sa.Integer(), nullable=False),
    sa.Column('checkpoint_id', sa.Integer(), nullable=False),
    sa.Column('generality', sa.Integer(), nullable=False),
    sa.Column('emoji_style', sa.Integer(), nullable=False),
    sa.Column('quality', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('emoji_style BETWEEN 1 AND 5', name=op.f('grid_ratings_emoji_style_ck')),
    sa.CheckConstraint('generality BETWEEN 1 AND 5', name=op.f('grid_ratings_generality_ck')),
    sa.CheckConstraint('quality BETWEEN 1 AND 5', name=op.f('grid_ratings_quality_ck')),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['checkpoints.id'], name=op.f('grid_ratings_checkpoint_id_fk'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rater_id'], ['raters.id'], name=op.f('grid_ratings_rater_id_fk'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('grid_ratings_pk')),
    sa.UniqueConstraint('rater_id', 'checkpoint_id', name=op.f('grid_ratings_rater_id_checkpoint_id_uq'))
    )
    with op.batch_alter_table('grid_ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grid_ratings_checkpoint_id'), ['checkpoint_id'], unique=False)

    op.create_table('artifact_flags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rater_id', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['rater_id'], ['raters.id'], name=op.f('artifact_flags_rater_id_fk'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['sample_id'], ['samples.id'], name=op.f('artifact_flags_sample_id_fk'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('artifact_flags_pk')),
    sa.UniqueConstraint('rater_id', 'sample_id', name=op.f('artifact_flags_rater_id_sample_id_uq'))
    )
    with op.batch_alter_table('artifact_flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_artifact_flags_sample_id'), ['sample_id'], unique=False)

    op.create_table('rating_repeats',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rater_id', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('generality', sa.Integer(), nullable=False),
    sa.Column('emoji_style', sa.Integer(), nullable=False),
    sa.Column('quality', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('emoji_style BETWEEN 1 AND 5', name=op.f('rating_repeats_emoji_style_ck')),
    sa.CheckConstraint('generality BETWEEN 1 AND 5', name=op.f('rating_repeats_generality_ck')),
    sa.CheckConstraint('quality BETWEEN 1 AND 5', name=op.f('rating_repeats_quality_ck')),
    sa.ForeignKeyConstraint(['rater_id'], ['raters.id'], name=op.f('rating_repeats_rater_id_fk'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['sample_id'], ['samples.id'], name=op.f('rating_repeats_sample_id_fk'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('rating_repeats_pk')),
    sa.UniqueConstraint('rater_id', 'sample_id', name=op.f('rating_repeats_rater_id_sample_id_uq'))
    )
    with op.batch_alter_table('rating_repeats', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rating_repeats_sample_id'), ['sample_id'], unique=False)

    op.create_table('rating_skips',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rater_id', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['rater_id'], ['raters.id'], name=op.f('rating_skips_rater_id_fk'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sample_id'], ['samples.id'], name=op.f('rating_skips_sample_id_fk'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('rating_skips_pk')),
    sa.UniqueConstraint('rater_id', 'sample_id', name=op.f('rating_skips_rater_id_sample_id_uq'))
    )
    with op.batch_alter_table('rating_skips', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rating_skips_sample_id'), ['sample_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('rating_skips', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rating_skips_sample_id'))

    op.drop_table('rating_skips')
    with op.batch_alter_table('rating_repeats', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rating_repeats_sample_id'))

    op.drop_table('rating_repeats')
    with op.batch_alter_table('artifact_flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_artifact_flags_sample_id'))

    op.drop_table('artifact_flags')
    with op.batch_alter_table('grid_ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grid_ratings_checkpoint_id'))

    op.drop_table('grid_ratings')
    op.drop_table('reference_examples')
    op.drop_table('rating_designs')
