"""Generation from a checkpoint (id or file): what `emojich generate` runs.

Sample `n` candidates, rank them by the sampler's perplexity and decode the best `keep`
(training/dalle/candidates.py); store them as samples of the checkpoint under the free-text prompt
set (db/candidates.py) when the database knows the checkpoint, and write them to `out` if given.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from db.errors import EmojichError
from db.ids import parse_id
from training.dalle.sampler import SamplingParams

DWT_SIZE = 512


@dataclass(frozen=True)
class ResolvedCheckpoint:
    path: Path
    checkpoint_id: int | None  # None: a file the database does not know


def resolve_checkpoint(engine, key: str, home: Path | None = None) -> ResolvedCheckpoint:
    """A checkpoint id or file; a file is matched to its database row when `engine` is given (stored paths
    are relative to the home)."""
    from db.engine import read_session
    from db.home import Home

    path = Path(key).expanduser()
    if path.is_file():
        if engine is None:
            return ResolvedCheckpoint(path, None)
        from db.candidates import checkpoint_for_file

        with read_session(engine) as s:
            row = checkpoint_for_file(s, path, Home.resolve(home))
        return ResolvedCheckpoint(path, row.id if row else None)
    checkpoint_id = parse_id(key)
    if checkpoint_id is None:
        raise EmojichError(f"checkpoint {key!r} is neither a file nor a checkpoint id")
    if engine is None:
        raise EmojichError("a checkpoint id needs the database")
    from db.samples import get_checkpoint

    with read_session(engine) as s:
        row = get_checkpoint(s, checkpoint_id)
    stored = Home.resolve(home).from_stored(row.path) if row.path else None
    if stored is None or not stored.is_file():
        raise EmojichError(f"checkpoint {key}'s file {stored or row.path} is missing")
    return ResolvedCheckpoint(stored, row.id)


@dataclass
class GenerateReport:
    sampled: int
    kept: list[tuple[int, int, float]] = field(default_factory=list)  # (rank, seed, perplexity), best first
    sample_ids: list[int] = field(default_factory=list)  # stored samples, same order
    checkpoint_id: int | None = None
    written: list[Path] = field(default_factory=list)

    def summary(self, out: Path | None) -> str:
        low, high = min(p for _, _, p in self.kept), max(p for _, _, p in self.kept)
        parts = [f"sampled {self.sampled}, kept the {len(self.kept)} with the lowest perplexity ({low:.2f}–{high:.2f})"]
        if self.sample_ids:
            parts.append(f"stored as samples {', '.join(map(str, self.sample_ids))} of checkpoint "
                         f"{self.checkpoint_id} (prompt set free-text)")
        else:
            parts.append("not stored: the database does not know this checkpoint file")
        if out is not None:
            parts.append(f"wrote {len(self.written)} images to {out}")
        return "; ".join(parts)


def generate_samples(home: Path, engine, checkpoint: str, prompt: str, *, n: int, keep: int | None, top_k: int,
                     top_p: float, temperature: float, seed: int, batch_size: int, out: Path | None,
                     size: int | None, progress: bool = True) -> GenerateReport:
    from training.config import config_from_dict
    from training.dalle.candidates import generate_candidates
    from training.dalle.checkpoint import bundle_from_checkpoint, read_checkpoint

    keep = n if keep is None else keep
    if not 1 <= keep <= n:
        raise EmojichError(f"--keep must be between 1 and -n ({n}), got {keep}")
    resolved = resolve_checkpoint(engine, checkpoint, home)
    if resolved.checkpoint_id is None and out is None:
        raise EmojichError(f"checkpoint file {resolved.path} is not in the database, so nothing can be stored; "
                           "give --out to write the images to a folder")
    seeds = list(range(seed, seed + n))
    if resolved.checkpoint_id is not None:
        _check_seeds(engine, resolved.checkpoint_id, prompt, seeds, top_k, top_p, temperature)
    dwt = size == DWT_SIZE
    if dwt:
        config = config_from_dict(read_checkpoint(resolved.path)["config"])
        if config.model.source != "pretrained":
            raise EmojichError("--size 512 decodes with rudalle's DWT VAE, which only fits the pretrained "
                               "ruDALL-E codes; this checkpoint's model is tiny")
    bundle, _ = bundle_from_checkpoint(resolved.path, Path(home), dwt=dwt)
    params = SamplingParams(top_k, top_p, temperature, batch_size)
    batch = generate_candidates(bundle, prompt, seeds, params, keep, progress=progress)
    report = GenerateReport(n, [(c.rank, c.seed, c.perplexity) for c in batch.candidates],
                            checkpoint_id=resolved.checkpoint_id)
    if resolved.checkpoint_id is not None:
        report.sample_ids = _store(engine, resolved.checkpoint_id, prompt, batch)
    if out is not None:
        report.written = _write(batch, Path(out), None if dwt else size)
    return report


def _check_seeds(engine, checkpoint_id: int, prompt: str, seeds: list[int], top_k: int, top_p: float,
                 temperature: float) -> None:
    from db.candidates import MAX_PROMPT_CHARS, clean_prompt_text, taken_seeds
    from db.engine import read_session

    if len(clean_prompt_text(prompt)) > MAX_PROMPT_CHARS:
        raise EmojichError(f"prompt is {len(clean_prompt_text(prompt))} characters; at most {MAX_PROMPT_CHARS} "
                           "can be stored with the samples")
    with read_session(engine) as s:
        taken = taken_seeds(s, checkpoint_id, prompt, seeds, top_k, top_p, temperature)
    if taken:
        raise EmojichError(
            f"seeds {', '.join(map(str, taken[:5]))}{'…' if len(taken) > 5 else ''} of this prompt are already "
            f"stored for checkpoint {checkpoint_id} with other sampling settings; choose another --seed"
        )


def _store(engine, checkpoint_id: int, prompt: str, batch) -> list[int]:
    from db.candidates import free_text_prompt, store_candidates
    from db.engine import write_session
    from db.samples import NewSample

    p = batch.params
    with write_session(engine) as s:
        prompt_id = free_text_prompt(s, prompt).id
        new = [NewSample(prompt_id, c.seed, c.image, p.top_k, p.top_p, p.temperature, c.perplexity)
               for c in batch.candidates]
        return store_candidates(s, checkpoint_id, new)


def _write(batch, out: Path, size: int | None) -> list[Path]:
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for c in batch.candidates:
        image = c.image
        if size and image.size != (size, size):
            image = image.resize((size, size), Image.Resampling.LANCZOS)
        file = out / f"rank{c.rank + 1:03d}_seed{c.seed}_ppl{c.perplexity:.2f}.png"
        image.save(file)
        written.append(file)
    return written
