"""bot: generation jobs (the queue between the Telegram bot and the workers), the candidates they
showed (samples of the checkpoint), users' sticker sets and their picks

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-01 21:24:39.266854
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sticker_sets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('telegram_user_id', sa.BigInteger(), nullable=False),
    sa.Column('ordinal', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=64), nullable=False),
    sa.Column('created_in_telegram_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('ordinal >= 1', name=op.f('sticker_sets_ordinal_ck')),
    sa.PrimaryKeyConstraint('id', name=op.f('sticker_sets_pk')),
    sa.UniqueConstraint('name', name=op.f('sticker_sets_name_uq')),
    sa.UniqueConstraint('telegram_user_id', 'ordinal', name=op.f('sticker_sets_telegram_user_id_ordinal_uq'))
    )
    op.create_table('generation_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('telegram_user_id', sa.BigInteger(), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=True),
    sa.Column('prompt', sa.String(length=500), nullable=False),
    sa.Column('checkpoint_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('lease_token', sa.String(length=32), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('worker', sa.String(length=200), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('status_message_id', sa.BigInteger(), nullable=True),
    sa.Column('sampled', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name=op.f('generation_jobs_status_ck')),
    sa.CheckConstraint('attempts >= 0', name=op.f('generation_jobs_attempts_ck')),
    sa.CheckConstraint('length(prompt) > 0', name=op.f('generation_jobs_prompt_not_empty_ck')),
    sa.CheckConstraint('progress >= 0 AND progress <= 1', name=op.f('generation_jobs_progress_ck')),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['checkpoints.id'], name=op.f('generation_jobs_checkpoint_id_fk'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('generation_jobs_pk'))
    )
    with op.batch_alter_table('generation_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_generation_jobs_checkpoint_id'), ['checkpoint_id'], unique=False)
        batch_op.create_index('ix_generation_jobs_status_id', ['status', 'id'], unique=False)
        batch_op.create_index('ix_generation_jobs_user_created', ['telegram_user_id', 'created_at'], unique=False)

    op.create_table('job_candidates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('rgba_sha256', sa.String(length=64), nullable=False),
    sa.Column('mask_method', sa.String(length=20), nullable=False),
    sa.CheckConstraint('rank >= 0', name=op.f('job_candidates_rank_ck')),
    sa.ForeignKeyConstraint(['job_id'], ['generation_jobs.id'], name=op.f('job_candidates_job_id_fk'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rgba_sha256'], ['images.sha256'], name=op.f('job_candidates_rgba_sha256_fk'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['sample_id'], ['samples.id'], name=op.f('job_candidates_sample_id_fk'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('job_candidates_pk')),
    sa.UniqueConstraint('job_id', 'rank', name=op.f('job_candidates_job_id_rank_uq'))
    )
    with op.batch_alter_table('job_candidates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_candidates_rgba_sha256'), ['rgba_sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_candidates_sample_id'), ['sample_id'], unique=False)

    op.create_table('sticker_picks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=False),
    sa.Column('sticker_set_id', sa.Integer(), nullable=False),
    sa.Column('telegram_user_id', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('emoji', sa.String(length=50), nullable=False),
    sa.Column('file_id', sa.String(length=200), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('added', 'removed', 'failed')", name=op.f('sticker_picks_status_ck')),
    sa.ForeignKeyConstraint(['candidate_id'], ['job_candidates.id'], name=op.f('sticker_picks_candidate_id_fk'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sticker_set_id'], ['sticker_sets.id'], name=op.f('sticker_picks_sticker_set_id_fk'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('sticker_picks_pk'))
    )
    with op.batch_alter_table('sticker_picks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sticker_picks_candidate_id'), ['candidate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sticker_picks_sticker_set_id'), ['sticker_set_id'], unique=False)
        batch_op.create_index('ix_sticker_picks_user_created', ['telegram_user_id', 'created_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('sticker_picks', schema=None) as batch_op:
        batch_op.drop_index('ix_sticker_picks_user_created')
        batch_op.drop_index(batch_op.f('ix_sticker_picks_sticker_set_id'))
        batch_op.drop_index(batch_op.f('ix_sticker_picks_candidate_id'))

    op.drop_table('sticker_picks')
    with op.batch_alter_table('job_candidates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_candidates_sample_id'))
        batch_op.drop_index(batch_op.f('ix_job_candidates_rgba_sha256'))

    op.drop_table('job_candidates')
    with op.batch_alter_table('generation_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_generation_jobs_user_created')
        batch_op.drop_index('ix_generation_jobs_status_id')
        batch_op.drop_index(batch_op.f('ix_generation_jobs_checkpoint_id'))

    op.drop_table('generation_jobs')
    op.drop_table('sticker_sets')
