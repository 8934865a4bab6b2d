"""initial schema: every table of ARCHITECTURE.md

Revision ID: 0001
Revises:
Create Date: 2026-11-27 15:44:16.397153
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dataset_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dataset', sa.String(length=200), nullable=False),
    sa.Column('file', sa.String(length=500), nullable=False),
    sa.Column('caption', sa.String(length=500), nullable=False),
    sa.Column('emoji', sa.String(length=50), nullable=True),
    sa.Column('codepoints', sa.String(length=200), nullable=True),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('license', sa.String(length=200), nullable=False),
    sa.Column('split', sa.String(length=5), nullable=False),
    sa.Column('white_share', sa.Float(), nullable=True),
    sa.CheckConstraint("split IN ('train', 'val')", name=op.f('dataset_items_split_ck')),
    sa.PrimaryKeyConstraint('id', name=op.f('dataset_items_pk')),
    sa.UniqueConstraint('dataset', 'file', name=op.f('dataset_items_dataset_file_uq'))
    )
    with op.batch_alter_table('dataset_items', schema=None) as batch_op:
        batch_op.create_index('ix_dataset_items_dataset_split', ['dataset', 'split'], unique=False)

    op.create_table('images',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('png', sa.LargeBinary(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(sha256) = 64', name=op.f('images_sha256_length_ck')),
    sa.CheckConstraint('width > 0 AND height > 0', name=op.f('images_size_ck')),
    sa.PrimaryKeyConstraint('sha256', name=op.f('images_pk'))
    )
    op.create_table('prompt_sets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('prompt_sets_pk')),
    sa.UniqueConstraint('name', name=op.f('prompt_sets_name_uq'))
    )
    op.create_table('raters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_hash', sa.String(length=200), nullable=False),
    sa.Column('is_admin', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(name) > 0', name=op.f('raters_name_not_empty_ck')),
    sa.PrimaryKeyConstraint('id', name=op.f('raters_pk')),
    sa.UniqueConstraint('name', name=op.f('raters_name_uq'))
    )
    op.create_table('runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('code_version', sa.String(length=100), nullable=True),
    sa.CheckConstraint("status IN ('running', 'finished', 'failed', 'interrupted')", name=op.f('runs_status_ck')),
    sa.PrimaryKeyConstraint('id', name=op.f('runs_pk')),
    sa.UniqueConstraint('name', name=op.f('runs_name_uq'))
    )
    op.create_table('segmentation_rounds',
    sa.Column('round', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('encoder', sa.String(length=100), nullable=False),
    sa.Column('train_size', sa.Integer(), nullable=False),
    sa.Column('val_size', sa.Integer(), nullable=False),
    sa.Column('val_iou', sa.Float(), nullable=True),
    sa.Column('val_dice', sa.Float(), nullable=True),
    sa.Column('predicted', sa.Integer(), nullable=False),
    sa.Column('share_accepted', sa.Float(), nullable=True),
    sa.Column('gate', sa.String(length=50), nullable=True),
    sa.Column('plateau', sa.Boolean(), nullable=False),
    sa.Column('model_path', sa.String(length=1000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('round >= 1', name=op.f('segmentation_rounds_round_ck')),
    sa.PrimaryKeyConstraint('round', name=op.f('segmentation_rounds_pk'))
    )
    op.create_table('checkpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('epoch', sa.Float(), nullable=False),
    sa.Column('path', sa.String(length=1000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('step >= 0', name=op.f('checkpoints_step_ck')),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('checkpoints_run_id_fk'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('checkpoints_pk')),
    sa.UniqueConstraint('run_id', 'step', name=op.f('checkpoints_run_id_step_uq'))
    )
    with op.batch_alter_table('checkpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checkpoints_run_id'), ['run_id'], unique=False)

    op.create_table('metrics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('metrics_run_id_fk'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('metrics_pk')),
    sa.UniqueConstraint('run_id', 'name', 'step', name=op.f('metrics_run_id_name_step_uq'))
    )
    op.create_table('prompts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('set_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('text', sa.String(length=500), nullable=False),
    sa.CheckConstraint('length(text) > 0', name=op.f('prompts_text_not_empty_ck')),
    sa.ForeignKeyConstraint(['set_id'], ['prompt_sets.id'], name=op.f('prompts_set_id_fk'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('prompts_pk')),
    sa.UniqueConstraint('set_id', 'position', name=op.f('prompts_set_id_position_uq'))
    )
    op.create_table('decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('checkpoint_id', sa.Integer(), nullable=False),
    sa.Column('rater_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(reason) > 0', name=op.f('decisions_reason_not_empty_ck')),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['checkpoints.id'], name=op.f('decisions_checkpoint_id_fk')),
    sa.ForeignKeyConstraint(['rater_id'], ['raters.id'], name=op.f('decisions_rater_id_fk'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('decisions_run_id_fk'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('decisions_pk'))
    )
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decisions_run_id'), ['run_id'], unique=False)

    op.create_table('samples',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('checkpoint_id', sa.Integer(), nullable=False),
    sa.Column('prompt_id', sa.Integer(), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('top_k', sa.Integer(), nullable=False),
    sa.Column('top_p', sa.Float(), nullable=False),
    sa.Column('temperature', sa.Float(), nullable=False),
    sa.Column('image_sha256', sa.String(length=64), nullable=False),
    sa.Column('perplexity', sa.Float(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('temperature > 0', name=op.f('samples_temperature_ck')),
    sa.CheckConstraint('top_k >= 0', name=op.f('samples_top_k_ck')),
    sa.CheckConstraint('top_p > 0 AND top_p <= 1', name=op.f('samples_top_p_ck')),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['checkpoints.id'], name=op.f('samples_checkpoint_id_fk'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['image_sha256'], ['images.sha256'], name=op.f('samples_image_sha256_fk'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompts.id'], name=op.f('samples_prompt_id_fk'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('samples_pk')),
    sa.UniqueConstraint('checkpoint_id', 'prompt_id', 'seed', name=op.f('samples_checkpoint_id_prompt_id_seed_uq'))
    )
    with op.batch_alter_table('samples', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_samples_checkpoint_id'), ['checkpoint_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_samples_image_sha256'), ['image_sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_samples_prompt_id'), ['prompt_id'], unique=False)

    op.create_table('comparisons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rater_id', sa.Integer(), nullable=False),
    sa.Column('prompt_id', sa.Integer(), nullable=False),
    sa.Column('sample_a', sa.Integer(), nullable=False),
    sa.Column('sample_b', sa.Integer(), nullable=False),
    sa.Column('winner', sa.String(length=3), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("winner IN ('a', 'b', 'tie')", name=op.f('comparisons_winner_ck')),
    sa.CheckConstraint('sample_a <> sample_b', name=op.f('comparisons_distinct_samples_ck')),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompts.id'], name=op.f('comparisons_prompt_id_fk'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['rater_id'], ['raters.id'], name=op.f('comparisons_rater_id_fk'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['sample_a'], ['samples.id'], name=op.f('comparisons_sample_a_fk'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sample_b'], ['samples.id'], name=op.f('comparisons_sample_b_fk'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('comparisons_pk')),
    sa.UniqueConstraint('rater_id', 'sample_a', 'sample_b', name=op.f('comparisons_rater_id_sample_a_sample_b_uq'))
    )
    with op.batch_alter_table('comparisons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comparisons_rater_id'), ['rater_id'], unique=False)

    op.create_table('masks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dataset_item_id', sa.Integer(), nullable=True),
    sa.Column('sample_id', sa.Integer(), nullable=True),
    sa.Column('image_sha256', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('round', sa.Integer(), nullable=True),
    sa.Column('confidence_mean', sa.Float(), nullable=True),
    sa.Column('confidence_boundary', sa.Float(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('for_validation', sa.Boolean(), nullable=False),
    sa.Column('rater_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("source IN ('ground_truth', 'unet', 'contour', 'manual')", name=op.f('masks_source_ck')),
    sa.CheckConstraint("status IN ('accepted', 'needs_review', 'rejected')", name=op.f('masks_status_ck')),
    sa.CheckConstraint('(dataset_item_id IS NULL) <> (sample_id IS NULL)', name=op.f('masks_one_subject_ck')),
    sa.ForeignKeyConstraint(['dataset_item_id'], ['dataset_items.id'], name=op.f('masks_dataset_item_id_fk'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['image_sha256'], ['images.sha256'], name=op.f('masks_image_sha256_fk'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['rater_id'], ['raters.id'], name=op.f('masks_rater_id_fk'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sample_id'], ['samples.id'], name=op.f('masks_sample_id_fk'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('masks_pk'))
    )
    with op.batch_alter_table('masks', schema=None) as batch_op:
        batch_op.create_index('ix_masks_dataset_item_id', ['dataset_item_id'], unique=False)
        batch_op.create_index('ix_masks_sample_id', ['sample_id'], unique=False)
        batch_op.create_index('ix_masks_status_source', ['status', 'source'], unique=False)

    op.create_table('ratings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rater_id', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('generality', sa.Integer(), nullable=False),
    sa.Column('emoji_style', sa.Integer(), nullable=False),
    sa.Column('quality', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('emoji_style BETWEEN 1 AND 5', name=op.f('ratings_emoji_style_ck')),
    sa.CheckConstraint('generality BETWEEN 1 AND 5', name=op.f('ratings_generality_ck')),
    sa.CheckConstraint('quality BETWEEN 1 AND 5', name=op.f('ratings_quality_ck')),
    sa.ForeignKeyConstraint(['rater_id'], ['raters.id'], name=op.f('ratings_rater_id_fk'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['sample_id'], ['samples.id'], name=op.f('ratings_sample_id_fk'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('ratings_pk')),
    sa.UniqueConstraint('rater_id', 'sample_id', name=op.f('ratings_rater_id_sample_id_uq'))
    )
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.create_index('ix_ratings_sample_scores', ['sample_id', 'rater_id', 'generality', 'emoji_style', 'quality'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.drop_index('ix_ratings_sample_scores')

    op.drop_table('ratings')
    with op.batch_alter_table('masks', schema=None) as batch_op:
        batch_op.drop_index('ix_masks_status_source')
        batch_op.drop_index('ix_masks_sample_id')
        batch_op.drop_index('ix_masks_dataset_item_id')

    op.drop_table('masks')
    with op.batch_alter_table('comparisons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_comparisons_rater_id'))

    op.drop_table('comparisons')
    with op.batch_alter_table('samples', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_samples_prompt_id'))
        batch_op.drop_index(batch_op.f('ix_samples_image_sha256'))
        batch_op.drop_index(batch_op.f('ix_samples_checkpoint_id'))

    op.drop_table('samples')
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decisions_run_id'))

    op.drop_table('decisions')
    op.drop_table('prompts')
    op.drop_table('metrics')
    with op.batch_alter_table('checkpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checkpoints_run_id'))

    op.drop_table('checkpoints')
    op.drop_table('segmentation_rounds')
    op.drop_table('runs')
    op.drop_table('raters')
    op.drop_table('prompt_sets')
    op.drop_table('images')
    with op.batch_alter_table('dataset_items', schema=None) as batch_op:
        batch_op.drop_index('ix_dataset_items_dataset_split')

    op.drop_table('dataset_items')
