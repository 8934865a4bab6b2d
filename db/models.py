"""SQLAlchemy 2 typed models for the whole schema (see ARCHITECTURE.md).

Every constraint is named (through the metadata naming convention or explicitly) so
migrations stay readable. Human work (ratings, comparisons, manual masks, decisions) is
kept apart from machine output by `source` columns and separate tables.

ON DELETE, deliberately:
- deleting a run removes its checkpoints, samples, metrics and the ratings of those samples;
- a checkpoint that a decision points at cannot be deleted on its own (NO ACTION) until the decision is;
- deleting a rater is refused while their ratings, comparisons or decisions exist
  (human work is never dropped silently); their manual masks keep the mask, rater set NULL;
- images are never deleted while a row uses them (RESTRICT);
- a rater's logins go with the rater; rating aggregates go with their sample or checkpoint (CASCADE).
"""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "%(table_name)s_%(column_0_N_name)s_uq",
    "ck": "%(table_name)s_%(constraint_name)s_ck",
    "fk": "%(table_name)s_%(column_0_name)s_fk",
    "pk": "%(table_name)s_pk",
}

RUN_STATUSES = ("running", "finished", "failed", "interrupted")
MASK_SOURCES = ("ground_truth", "unet", "contour", "manual")
MASK_STATUSES = ("accepted", "needs_review", "rejected")
WINNERS = ("a", "b", "tie")
SPLITS = ("train", "val")
SCORE_COLUMNS = ("generality", "emoji_style", "quality")
QUEUE_POLICIES = ("uniform", "adaptive")
REFERENCE_LEVELS = (1, 5)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (CheckConstraint(_in("status", RUN_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    config: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="running")
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    code_version: Mapped[str | None] = mapped_column(String(100))

    checkpoints: Mapped[list[Checkpoint]] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True, order_by="Checkpoint.step"
    )


class Checkpoint(Base):
    __tablename__ = "checkpoints"
    __table_args__ = (UniqueConstraint("run_id", "step"), CheckConstraint("step >= 0", name="step"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    epoch: Mapped[float] = mapped_column(Float, default=0.0)
    path: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    run: Mapped[Run] = relationship(back_populates="checkpoints")


class PromptSet(Base):
    __tablename__ = "prompt_sets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    prompts: Mapped[list[Prompt]] = relationship(back_populates="prompt_set", order_by="Prompt.position")


class Prompt(Base):
    __tablename__ = "prompts"
    __table_args__ = (
        UniqueConstraint("set_id", "position"),
        CheckConstraint("length(text) > 0", name="text_not_empty"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("prompt_sets.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(String(500))

    prompt_set: Mapped[PromptSet] = relationship(back_populates="prompts")


class Image(Base):
    """Every image the loop makes or edits, stored once, keyed by the sha256 of its PNG bytes."""

    __tablename__ = "images"
    __table_args__ = (
        CheckConstraint("length(sha256) = 64", name="sha256_length"),
        CheckConstraint("width > 0 AND height > 0", name="size"),
    )

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    png: Mapped[bytes] = mapped_column(LargeBinary)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Sample(Base):
    __tablename__ = "samples"
    __table_args__ = (
        UniqueConstraint("checkpoint_id", "prompt_id", "seed"),
        CheckConstraint("top_k >= 0", name="top_k"),
        CheckConstraint("top_p > 0 AND top_p <= 1", name="top_p"),
        CheckConstraint("temperature > 0", name="temperature"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id", ondelete="CASCADE"), index=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="RESTRICT"), index=True)
    seed: Mapped[int] = mapped_column(Integer)
    top_k: Mapped[int] = mapped_column(Integer)
    top_p: Mapped[float] = mapped_column(Float)
    temperature: Mapped[float] = mapped_column(Float)
    image_sha256: Mapped[str] = mapped_column(ForeignKey("images.sha256", ondelete="RESTRICT"), index=True)
    perplexity: Mapped[float | None] = mapped_column(Float)
    # Mean cross-entropy of the prompt's text tokens given this image, under the newest captioner that
    # shares the run's tokenizer and VAE (recording a new captioner clears the older scores).
    caption_loss: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    checkpoint: Mapped[Checkpoint] = relationship()
    prompt: Mapped[Prompt] = relationship()


class Captioner(Base):
    """An inverse (image → caption) model trained for Caption Loss; its weights live under the home.

    `vae_file` and `tokenizer_file` name the image and text tokenizers it was trained with (relative to
    the home when inside it): a run can be scored by a captioner only when both are the run's.
    """

    __tablename__ = "captioners"
    __table_args__ = (
        CheckConstraint("length(name) > 0", name="name_not_empty"),
        CheckConstraint("steps >= 0 AND train_pairs > 0 AND val_pairs >= 0", name="counts"),
        Index("ix_captioners_vae_file_tokenizer_file", "vae_file", "tokenizer_file"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    config: Mapped[dict] = mapped_column(JSON)
    path: Mapped[str] = mapped_column(String(1000))
    vae_file: Mapped[str] = mapped_column(String(1000))
    tokenizer_file: Mapped[str] = mapped_column(String(1000))
    dataset: Mapped[str] = mapped_column(String(200))
    train_pairs: Mapped[int] = mapped_column(Integer)
    val_pairs: Mapped[int] = mapped_column(Integer)
    steps: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)
    train_loss: Mapped[float | None] = mapped_column(Float)
    # held-out pairs: mean caption loss given the caption's own image, and given other images
    val_loss_own: Mapped[float | None] = mapped_column(Float)
    val_loss_other: Mapped[float | None] = mapped_column(Float)
    val_share_lower: Mapped[float | None] = mapped_column(Float)  # share of captions lower on their own image
    code_version: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Rater(Base):
    __tablename__ = "raters"
    __table_args__ = (CheckConstraint("length(name) > 0", name="name_not_empty"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Rating(Base):
    __tablename__ = "ratings"
    __table_args__ = (
        UniqueConstraint("rater_id", "sample_id"),
        *(CheckConstraint(f"{c} BETWEEN 1 AND 5", name=c) for c in SCORE_COLUMNS),
        # Covers the dashboard's aggregates (scores per sample/checkpoint, agreement, per-rater counts)
        # so they read the index alone; its sample_id prefix also serves the ON DELETE CASCADE lookups.
        Index("ix_ratings_sample_scores", "sample_id", "rater_id", "generality", "emoji_style", "quality"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("raters.id", ondelete="RESTRICT"))
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"))
    generality: Mapped[int] = mapped_column(Integer)
    emoji_style: Mapped[int] = mapped_column(Integer)
    quality: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Comparison(Base):
    __tablename__ = "comparisons"
    __table_args__ = (
        CheckConstraint(_in("winner", WINNERS), name="winner"),
        CheckConstraint("sample_a <> sample_b", name="distinct_samples"),
        UniqueConstraint("rater_id", "sample_a", "sample_b"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("raters.id", ondelete="RESTRICT"), index=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="RESTRICT"))
    sample_a: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"))
    sample_b: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"))
    winner: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Metric(Base):
    __tablename__ = "metrics"
    __table_args__ = (UniqueConstraint("run_id", "name", "step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(50))
    value: Mapped[float] = mapped_column(Float)


class DatasetItem(Base):
    """One image of a dataset folder on disk (the files stay on disk; the DB indexes them)."""

    __tablename__ = "dataset_items"
    __table_args__ = (
        UniqueConstraint("dataset", "file"),
        CheckConstraint(_in("split", SPLITS), name="split"),
        Index("ix_dataset_items_dataset_split", "dataset", "split"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset: Mapped[str] = mapped_column(String(200))
    file: Mapped[str] = mapped_column(String(500))
    caption: Mapped[str] = mapped_column(String(500))
    emoji: Mapped[str | None] = mapped_column(String(50))
    codepoints: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(100))
    license: Mapped[str] = mapped_column(String(200))
    split: Mapped[str] = mapped_column(String(5))
    white_share: Mapped[float | None] = mapped_column(Float)


class Mask(Base):
    """A foreground mask for a dataset item or a generated sample (exactly one of the two)."""

    __tablename__ = "masks"
    __table_args__ = (
        CheckConstraint(_in("source", MASK_SOURCES), name="source"),
        CheckConstraint(_in("status", MASK_STATUSES), name="status"),
        CheckConstraint(
            "(dataset_item_id IS NULL) <> (sample_id IS NULL)", name="one_subject"
        ),
        Index("ix_masks_sample_id", "sample_id"),
        Index("ix_masks_dataset_item_id", "dataset_item_id"),
        Index("ix_masks_status_source", "status", "source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_item_id: Mapped[int | None] = mapped_column(ForeignKey("dataset_items.id", ondelete="CASCADE"))
    sample_id: Mapped[int | None] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"))
    image_sha256: Mapped[str] = mapped_column(ForeignKey("images.sha256", ondelete="RESTRICT"))
    source: Mapped[str] = mapped_column(String(20))
    round: Mapped[int | None] = mapped_column(Integer)
    confidence_mean: Mapped[float | None] = mapped_column(Float)
    confidence_object: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20))
    for_validation: Mapped[bool] = mapped_column(Boolean, default=False)
    rater_id: Mapped[int | None] = mapped_column(ForeignKey("raters.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SegmentationRound(Base):
    __tablename__ = "segmentation_rounds"
    __table_args__ = (CheckConstraint("round >= 1", name="round"),)

    round: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    encoder: Mapped[str] = mapped_column(String(100))
    train_size: Mapped[int] = mapped_column(Integer)
    val_size: Mapped[int] = mapped_column(Integer, default=0)
    val_iou: Mapped[float | None] = mapped_column(Float)
    val_dice: Mapped[float | None] = mapped_column(Float)
    predicted: Mapped[int] = mapped_column(Integer, default=0)
    share_accepted: Mapped[float | None] = mapped_column(Float)
    gate: Mapped[str | None] = mapped_column(String(50))
    plateau: Mapped[bool] = mapped_column(Boolean, default=False)
    model_path: Mapped[str | None] = mapped_column(String(1000))
    # Whether the encoder started from ImageNet weights (directly, or through the rounds it continued);
    # None for rounds recorded before this was kept.
    encoder_pretrained: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Decision(Base):
    """The chosen stopping checkpoint of a run, made by an admin, with a reason."""

    __tablename__ = "decisions"
    __table_args__ = (CheckConstraint("length(reason) > 0", name="reason_not_empty"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    # NO ACTION (checked at the end of the statement): a chosen checkpoint cannot be deleted on its
    # own, but deleting the whole run removes the decision and its checkpoints together.
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id"))
    rater_id: Mapped[int] = mapped_column(ForeignKey("raters.id", ondelete="RESTRICT"))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


JOB_STATUSES = ("queued", "running", "done", "failed")
PICK_STATUSES = ("added", "removed", "failed")


class GenerationJob(Base):
    """One caption someone sent the bot: queued, leased by a worker, done (candidates stored) or failed.

    A worker holds a job through a lease (token + expiry) that it renews while it works; a job whose
    lease ran out is claimed again by any worker, up to `MAX_ATTEMPTS` attempts (db/jobs.py)."""

    __tablename__ = "generation_jobs"
    __table_args__ = (
        CheckConstraint(_in("status", JOB_STATUSES), name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        CheckConstraint("progress >= 0 AND progress <= 1", name="progress"),
        CheckConstraint("length(prompt) > 0", name="prompt_not_empty"),
        Index("ix_generation_jobs_status_id", "status", "id"),
        Index("ix_generation_jobs_user_created", "telegram_user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    language: Mapped[str | None] = mapped_column(String(16))
    prompt: Mapped[str] = mapped_column(String(500))
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    lease_token: Mapped[str | None] = mapped_column(String(32))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    worker: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    status_message_id: Mapped[int | None] = mapped_column(BigInteger)
    sampled: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class JobCandidate(Base):
    """A candidate the bot showed for a job: a sample of the checkpoint and its cut-out (RGBA PNG)."""

    __tablename__ = "job_candidates"
    __table_args__ = (UniqueConstraint("job_id", "rank"), CheckConstraint("rank >= 0", name="rank"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("generation_jobs.id", ondelete="CASCADE"))
    rank: Mapped[int] = mapped_column(Integer)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), index=True)
    rgba_sha256: Mapped[str] = mapped_column(ForeignKey("images.sha256", ondelete="RESTRICT"), index=True)
    mask_method: Mapped[str] = mapped_column(String(20))


class StickerSet(Base):
    """A Telegram static sticker set of one user; `ordinal` 1 is the first, /new starts the next."""

    __tablename__ = "sticker_sets"
    __table_args__ = (
        UniqueConstraint("telegram_user_id", "ordinal"),
        CheckConstraint("ordinal >= 1", name="ordinal"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger)
    ordinal: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(64))
    created_in_telegram_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StickerPick(Base):
    """A tap on a candidate: the sticker added to the user's set (or why Telegram refused it)."""

    __tablename__ = "sticker_picks"
    __table_args__ = (
        CheckConstraint(_in("status", PICK_STATUSES), name="status"),
        Index("ix_sticker_picks_user_created", "telegram_user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("job_candidates.id", ondelete="CASCADE"), index=True)
    sticker_set_id: Mapped[int] = mapped_column(ForeignKey("sticker_sets.id", ondelete="CASCADE"), index=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10))
    emoji: Mapped[str] = mapped_column(String(50))
    file_id: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
class LoginSession(Base):
    """A remembered login: only the sha256 of the browser's session id is stored, with its rater and
    expiry. Logging out, a token reset or deleting the rater removes the row, which ends the login
    on every app server at once (writes re-check it in their own transaction)."""

    __tablename__ = "login_sessions"
    __table_args__ = (
        CheckConstraint("length(session_sha256) = 64", name="session_sha256_length"),
        Index("ix_login_sessions_rater_id", "rater_id"),
        # ids are never reused (SQLite would hand a deleted row's id to the next login): a page
        # holding an ended login's id must never find someone else's login under it
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("raters.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # A one-time code the page hands to the browser, which trades it for the HttpOnly cookie.
    handoff_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    handoff_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginThrottle(Base):
    """Failed logins per key (`rater:<id>` or `client:<address>`), shared by every app server."""

    __tablename__ = "login_throttle"
    __table_args__ = (CheckConstraint("failures >= 0", name="failures"),)

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


SCORE_VALUES = (1, 2, 3, 4, 5)


def _count() -> Mapped[int]:
    return mapped_column(Integer, default=0)


class SampleRatingStats(Base):
    """Per sample: how many ratings gave each score on each criterion (kept current by
    db/ratings.py in the transaction of every save, edit, flag and undo; see db/rating_stats.py).
    Means, moments and agreement inputs of the dashboard are read from here, not from `ratings`."""

    __tablename__ = "sample_rating_stats"
    __table_args__ = (
        CheckConstraint("ratings >= 0", name="ratings"),
        Index("ix_sample_rating_stats_checkpoint_id", "checkpoint_id"),
    )

    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), primary_key=True)
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id", ondelete="CASCADE"))
    ratings: Mapped[int] = _count()
    # <criterion>_<score>: how many of the sample's ratings gave that score
    generality_1: Mapped[int] = _count()
    generality_2: Mapped[int] = _count()
    generality_3: Mapped[int] = _count()
    generality_4: Mapped[int] = _count()
    generality_5: Mapped[int] = _count()
    emoji_style_1: Mapped[int] = _count()
    emoji_style_2: Mapped[int] = _count()
    emoji_style_3: Mapped[int] = _count()
    emoji_style_4: Mapped[int] = _count()
    emoji_style_5: Mapped[int] = _count()
    quality_1: Mapped[int] = _count()
    quality_2: Mapped[int] = _count()
    quality_3: Mapped[int] = _count()
    quality_4: Mapped[int] = _count()
    quality_5: Mapped[int] = _count()


class CheckpointRaterCount(Base):
    """Ratings per checkpoint and rater (kept current with SampleRatingStats)."""

    __tablename__ = "checkpoint_rater_counts"
    __table_args__ = (CheckConstraint("ratings >= 0", name="ratings"),)

    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id", ondelete="CASCADE"), primary_key=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("raters.id", ondelete="CASCADE"), primary_key=True)
    ratings: Mapped[int] = mapped_column(Integer, default=0)
def _score_checks() -> tuple[CheckConstraint, ...]:
    return tuple(CheckConstraint(f"{c} BETWEEN 1 AND 5", name=c) for c in SCORE_COLUMNS)


class RatingSkip(Base):
    """A sample a rater skipped on the Rate page (kept across reloads; cleared when they ask)."""

    __tablename__ = "rating_skips"
    __table_args__ = (UniqueConstraint("rater_id", "sample_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("raters.id", ondelete="CASCADE"))
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RatingRepeat(Base):
    """A silent test–retest repeat: the same rater scoring a sample again, kept apart from (and
    never overwriting) their first rating in `ratings`."""

    __tablename__ = "rating_repeats"
    __table_args__ = (UniqueConstraint("rater_id", "sample_id"), *_score_checks())

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("raters.id", ondelete="RESTRICT"))
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), index=True)
    generality: Mapped[int] = mapped_column(Integer)
    emoji_style: Mapped[int] = mapped_column(Integer)
    quality: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class GridRating(Base):
    """A rater's scores for a whole checkpoint's grid (the report's way), apart from per-image ratings."""

    __tablename__ = "grid_ratings"
    __table_args__ = (UniqueConstraint("rater_id", "checkpoint_id"), *_score_checks())

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("raters.id", ondelete="RESTRICT"))
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id", ondelete="CASCADE"), index=True)
    generality: Mapped[int] = mapped_column(Integer)
    emoji_style: Mapped[int] = mapped_column(Integer)
    quality: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ArtifactFlag(Base):
    """"This image shows artifacts", flagged on the Grid page: per image, undoable (the row is
    deleted), and never touching the rater's rating of the image."""

    __tablename__ = "artifact_flags"
    __table_args__ = (UniqueConstraint("rater_id", "sample_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("raters.id", ondelete="RESTRICT"))
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RatingDesign(Base):
    """How a run's samples are put before raters (see workbench/app/analytics/queue_policy.py):
    the overlap every rater scores, the target raters per other sample, the queue policy, the
    silent repeats, and the minimums before agreement and the recommendation are shown.
    A run without a row uses the defaults below."""

    __tablename__ = "rating_designs"
    __table_args__ = (
        CheckConstraint(_in("queue", QUEUE_POLICIES), name="queue"),
        CheckConstraint("overlap_share >= 0 AND overlap_share <= 1", name="overlap_share"),
        CheckConstraint("target_raters >= 1", name="target_raters"),
        CheckConstraint("repeats >= 0", name="repeats"),
        CheckConstraint("min_overlap_raters >= 2", name="min_overlap_raters"),
        CheckConstraint("min_rated_per_checkpoint >= 2", name="min_rated_per_checkpoint"),
    )

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    queue: Mapped[str] = mapped_column(String(10), default="uniform")
    overlap_share: Mapped[float] = mapped_column(Float, default=0.2)
    target_raters: Mapped[int] = mapped_column(Integer, default=2)
    repeats: Mapped[int] = mapped_column(Integer, default=5)
    min_overlap_raters: Mapped[int] = mapped_column(Integer, default=2)
    min_rated_per_checkpoint: Mapped[int] = mapped_column(Integer, default=12)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # raters rate the latest opened run
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("raters.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ReferenceExample(Base):
    """An image an admin chose to show raters what a 1 or a 5 looks like on one criterion."""

    __tablename__ = "reference_examples"
    __table_args__ = (
        CheckConstraint(_in("criterion", SCORE_COLUMNS), name="criterion"),
        CheckConstraint("level IN (1, 5)", name="level"),
        UniqueConstraint("criterion", "level", "image_sha256"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    criterion: Mapped[str] = mapped_column(String(20))
    level: Mapped[int] = mapped_column(Integer)
    image_sha256: Mapped[str] = mapped_column(ForeignKey("images.sha256", ondelete="RESTRICT"))
    rater_id: Mapped[int | None] = mapped_column(ForeignKey("raters.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
