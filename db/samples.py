"""Prompt sets, checkpoints and their samples (images stored first, rows in one transaction)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from PIL import Image as PILImage
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from db.engine import write_session
from db.errors import CheckpointNotFound, EmojichError, SampleNotFound
from db.ids import could_be_id
from db.images import PreparedImage, prepare_image, put_prepared, store_images
from db.limits import check_text
from db.models import Checkpoint, Prompt, PromptSet, Sample


@dataclass(frozen=True)
class NewSample:
    """One generated image, ready to be stored with its checkpoint. The image is encoded and
    hashed when the NewSample is made (or comes encoded: a PreparedImage, e.g. sent by another
    process), so the checkpoint's write transaction only inserts rows."""

    prompt_id: int
    seed: int
    image: PILImage.Image | PreparedImage
    top_k: int = 2048
    top_p: float = 0.995
    temperature: float = 1.0
    perplexity: float | None = None
    prepared: PreparedImage = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        prepared = self.image if isinstance(self.image, PreparedImage) else prepare_image(self.image)
        object.__setattr__(self, "prepared", prepared)


def ensure_prompt_set(session: Session, name: str, texts: Sequence[str]) -> PromptSet:
    """Get the prompt set `name`, creating it from `texts` the first time.

    An existing set must hold the same texts: silently evaluating other prompts under the same
    name would make checkpoints incomparable.
    """
    check_text(PromptSet, name=name)
    for text in texts:
        check_text(Prompt, text=text)
    prompt_set = session.scalar(select(PromptSet).where(PromptSet.name == name))
    if prompt_set is None:
        prompt_set = PromptSet(name=name)
        session.add(prompt_set)
        session.flush()
        session.add_all(Prompt(set_id=prompt_set.id, position=i, text=t) for i, t in enumerate(texts))
        session.flush()
        return prompt_set
    stored = [p.text for p in prompt_set.prompts]
    if stored != list(texts):
        raise EmojichError(
            f"prompt set {name!r} already exists with different prompts; keep its prompts or give the new "
            f"ones another set name (sampling.prompt_set)"
        )
    return prompt_set


def list_prompts(session: Session, set_id: int) -> list[Prompt]:
    return list(session.scalars(select(Prompt).where(Prompt.set_id == set_id).order_by(Prompt.position)))


def add_checkpoint_with_samples(
    session: Session,
    run_id: int,
    step: int,
    epoch: float,
    path: str | None,
    samples: Sequence[NewSample],
) -> Checkpoint:
    """Write a checkpoint row, its samples and their images in the caller's transaction.

    Call inside `write_session`: if anything fails (a bad image, a duplicate), nothing of the
    batch remains, neither rows nor images. The images were encoded when the NewSamples were
    made, before the transaction: it holds the write lock for milliseconds.
    """
    checkpoint = Checkpoint(run_id=run_id, step=step, epoch=epoch, path=path)
    session.add(checkpoint)
    session.flush()
    put_prepared(session, [new.prepared for new in samples])  # encoded already: one INSERT, no PNG work here
    session.add_all(
        Sample(
            checkpoint_id=checkpoint.id,
            prompt_id=new.prompt_id,
            seed=new.seed,
            top_k=new.top_k,
            top_p=new.top_p,
            temperature=new.temperature,
            image_sha256=new.prepared.sha256,
            perplexity=new.perplexity,
        )
        for new in samples
    )
    session.flush()
    return checkpoint


def write_checkpoint_with_samples(
    engine: Engine, run_id: int, step: int, epoch: float, path: str | None, samples: Sequence[NewSample]
) -> int:
    """What a training job calls after each checkpoint: the images first, in short transactions
    (db/images.py `store_images`), then the checkpoint row and its samples in one transaction that
    only inserts rows. The samples land whole or not at all and never point at a missing image;
    no write transaction holds SQLite's lock for longer than one small chunk of images.
    Returns the checkpoint id."""
    store_images(engine, [new.prepared for new in samples])
    with write_session(engine) as session:
        return add_checkpoint_with_samples(session, run_id, step, epoch, path, samples).id


def get_checkpoint(session: Session, checkpoint_id: int) -> Checkpoint:
    checkpoint = session.get(Checkpoint, checkpoint_id) if could_be_id(checkpoint_id) else None
    if checkpoint is None:
        raise CheckpointNotFound(f"checkpoint {checkpoint_id} not found")
    return checkpoint


def list_checkpoints(session: Session, run_id: int | None = None) -> list[Checkpoint]:
    query = select(Checkpoint)
    if run_id is not None:
        query = query.where(Checkpoint.run_id == run_id)
    return list(session.scalars(query.order_by(Checkpoint.run_id, Checkpoint.step)))


def get_sample(session: Session, sample_id: int) -> Sample:
    sample = session.get(Sample, sample_id) if could_be_id(sample_id) else None
    if sample is None:
        raise SampleNotFound(f"sample {sample_id} not found (it may have been deleted)")
    return sample


def list_samples_of(session: Session, sample_ids) -> list[tuple[int, int, int]]:
    """(sample id, checkpoint id, prompt id) of these samples."""
    rows = session.execute(
        select(Sample.id, Sample.checkpoint_id, Sample.prompt_id).where(Sample.id.in_(list(sample_ids)))
    ).all()
    return [(int(a), int(b), int(c)) for a, b, c in rows]


def list_samples(session: Session, checkpoint_id: int) -> list[Sample]:
    return list(
        session.scalars(
            select(Sample)
            .join(Prompt, Prompt.id == Sample.prompt_id)
            .where(Sample.checkpoint_id == checkpoint_id)
            .order_by(Prompt.position, Sample.seed)
        )
    )
