"""Generated candidates stored as samples of their checkpoint (from `emojich generate` and the bot's workers).

Free-text prompts live in one prompt set, `free-text`, one row per distinct text, appended as they
come. Their samples are ordinary samples: they can be rated and segmented, join the U-Net's
pseudo-label pool and be exported as stickers. Checkpoint comparisons (db/scores.py) leave
them out: they exist for one checkpoint only and were picked by perplexity, so they would bias
that checkpoint's mean.

A sample is fixed by checkpoint + prompt + seed + sampling settings. Storing the same seed again
with the same settings reuses the stored row (the same sample); with other settings it is refused
(`SeedTaken`): the schema keeps one sample per checkpoint, prompt and seed.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.errors import EmojichError
from db.home import Home, OutsideHome
from db.images import put_image
from db.models import Checkpoint, Prompt, PromptSet, Sample, utcnow
from db.samples import NewSample
from db.upsert import conflict_insert

FREE_TEXT_SET = "free-text"
MAX_PROMPT_CHARS = 500  # prompts.text


class SeedTaken(EmojichError):
    pass


def clean_prompt_text(text: str) -> str:
    """How a free-text prompt is stored: single spaces, no surrounding whitespace."""
    return " ".join(text.split())


def free_text_set_id(session: Session) -> int | None:
    return session.scalar(select(PromptSet.id).where(PromptSet.name == FREE_TEXT_SET))


def find_free_text_prompt(session: Session, text: str) -> Prompt | None:
    set_id = free_text_set_id(session)
    if set_id is None:
        return None
    return session.scalar(select(Prompt).where(Prompt.set_id == set_id, Prompt.text == clean_prompt_text(text)))


def free_text_prompt(session: Session, text: str) -> Prompt:
    """The free-text set's row for `text`, appended the first time (in the caller's write transaction).

    Appenders are serialised on the set's row (FOR UPDATE on PostgreSQL; SQLite's write lock is
    already exclusive), so two workers never take the same position."""
    text = clean_prompt_text(text)
    if not text:
        raise EmojichError("prompt is empty")
    if len(text) > MAX_PROMPT_CHARS:
        raise EmojichError(f"prompt is {len(text)} characters; at most {MAX_PROMPT_CHARS} are stored")
    session.execute(
        conflict_insert(session, PromptSet).values(name=FREE_TEXT_SET, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["name"])
    )
    set_id = session.scalar(select(PromptSet.id).where(PromptSet.name == FREE_TEXT_SET).with_for_update())
    prompt = session.scalar(select(Prompt).where(Prompt.set_id == set_id, Prompt.text == text))
    if prompt is None:
        position = (session.scalar(select(func.max(Prompt.position)).where(Prompt.set_id == set_id)) or 0) + 1
        prompt = Prompt(set_id=set_id, position=position, text=text)
        session.add(prompt)
        session.flush()
    return prompt


def checkpoint_for_file(session: Session, path: Path, home: Home) -> Checkpoint | None:
    """The checkpoint row whose file is `path` (None for a file the database does not know, or one outside the
    home: stored paths are relative to it)."""
    try:
        stored = home.to_stored(path)
    except OutsideHome:
        return None
    return session.scalar(select(Checkpoint).where(Checkpoint.path == stored).limit(1))


def _same_settings(sample: Sample, new: NewSample) -> bool:
    return (sample.top_k, sample.top_p, sample.temperature) == (new.top_k, new.top_p, new.temperature)


def taken_seeds(session: Session, checkpoint_id: int, prompt_text: str, seeds: Sequence[int],
                top_k: int, top_p: float, temperature: float) -> list[int]:
    """Seeds of `seeds` already stored for this checkpoint and free-text prompt with other sampling settings."""
    prompt = find_free_text_prompt(session, prompt_text)
    if prompt is None:
        return []
    rows = session.scalars(
        select(Sample).where(Sample.checkpoint_id == checkpoint_id, Sample.prompt_id == prompt.id,
                             Sample.seed.in_([int(s) for s in seeds]))
    )
    return sorted(s.seed for s in rows if (s.top_k, s.top_p, s.temperature) != (top_k, top_p, temperature))


def store_candidates(session: Session, checkpoint_id: int, samples: Sequence[NewSample]) -> list[int]:
    """Sample ids for `samples` (each with its prompt id), in order, inserting the new ones with their
    images in the caller's transaction; a seed stored before with the same settings is reused."""
    ids = []
    for new in samples:
        existing = session.scalar(
            select(Sample).where(Sample.checkpoint_id == checkpoint_id, Sample.prompt_id == new.prompt_id,
                                 Sample.seed == new.seed)
        )
        if existing is not None:
            if not _same_settings(existing, new):
                raise SeedTaken(
                    f"seed {new.seed} of this prompt is already stored for checkpoint {checkpoint_id} with other "
                    f"sampling settings (top-k {existing.top_k}, top-p {existing.top_p}, temperature "
                    f"{existing.temperature}); choose another --seed"
                )
            ids.append(existing.id)
            continue
        sample = Sample(
            checkpoint_id=checkpoint_id, prompt_id=new.prompt_id, seed=new.seed, top_k=new.top_k, top_p=new.top_p,
            temperature=new.temperature, image_sha256=put_image(session, new.image), perplexity=new.perplexity,
        )
        session.add(sample)
        session.flush()
        ids.append(sample.id)
    return ids
