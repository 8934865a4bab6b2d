"""Generation from a checkpoint (id or file): what `emojich generate` runs.

Sample `n` candidates, rank them by the sampler's perplexity (or, `rerank="caption"`, by the caption loss
of the newest captioner for the checkpoint's tokenizer and VAE) and decode the best `keep`
(training/dalle/candidates.py); store them as samples of the checkpoint under the free-text prompt
set (db/candidates.py) when the database knows the checkpoint, and write them to `out` if given. When a
captioner exists, the stored candidates get their `samples.caption_loss` as every other sample does
(`score_pending`: from the decoded image, re-encoded, as `emojich score` computes it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from db.errors import EmojichError
from db.ids import parse_id
from training.dalle.sampler import SamplingParams

DWT_SIZE = 512
RERANKS = ("perplexity", "caption")


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
    caption_losses: list[float] | None = None  # by kept candidate, when ranked by caption loss
    captioner: str | None = None  # the captioner that ranked them, or scored the stored ones
    scored: int = 0  # stored samples given a caption loss

    def summary(self, out: Path | None) -> str:
        scores = self.caption_losses if self.caption_losses is not None else [p for _, _, p in self.kept]
        what = "caption loss" if self.caption_losses is not None else "perplexity"
        parts = [f"sampled {self.sampled}, kept the {len(self.kept)} with the lowest {what} "
                 f"({min(scores):.2f}–{max(scores):.2f})"]
        if self.caption_losses is not None:
            parts[0] += f" by captioner {self.captioner}"
        if self.sample_ids:
            parts.append(f"stored as samples {', '.join(map(str, self.sample_ids))} of checkpoint "
                         f"{self.checkpoint_id} (prompt set free-text)")
        else:
            parts.append("not stored: the database does not know this checkpoint file")
        if self.scored:
            parts.append(f"caption loss stored for {self.scored} sample(s) (captioner {self.captioner})")
        if out is not None:
            parts.append(f"wrote {len(self.written)} images to {out}")
        return "; ".join(parts)


def generate_samples(home: Path, engine, checkpoint: str, prompt: str, *, n: int, keep: int | None, top_k: int,
                     top_p: float, temperature: float, seed: int, batch_size: int, out: Path | None,
                     size: int | None, progress: bool = True, rerank: str = "perplexity") -> GenerateReport:
    from training.config import config_from_dict
    from training.dalle.candidates import generate_candidates
    from training.dalle.checkpoint import bundle_from_checkpoint, read_checkpoint

    keep = n if keep is None else keep
    if rerank not in RERANKS:
        raise EmojichError(f"--rerank must be one of {', '.join(RERANKS)}, got {rerank!r}")
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
    # a captioner ranks (--rerank caption) or scores what is stored; a file the database does not know needs none
    wanted = rerank == "caption" or resolved.checkpoint_id is not None
    captioner = _captioner(engine, home, bundle, checkpoint, required=rerank == "caption") if wanted else None
    rank_by = None
    if rerank == "caption":
        from training.captioner.rerank import caption_losses

        def rank_by(codes):
            return caption_losses(captioner, prompt, codes=codes).tolist()

    params = SamplingParams(top_k, top_p, temperature, batch_size)
    batch = generate_candidates(bundle, prompt, seeds, params, keep, progress=progress, rank_by=rank_by)
    report = GenerateReport(n, [(c.rank, c.seed, c.perplexity) for c in batch.candidates],
                            checkpoint_id=resolved.checkpoint_id)
    if captioner is not None:
        report.captioner = captioner.name
    if rerank == "caption":
        report.caption_losses = [c.caption_loss for c in batch.candidates]
    if resolved.checkpoint_id is not None:
        report.sample_ids = _store(engine, resolved.checkpoint_id, prompt, batch)
        if captioner is not None:
            report.scored = _score_stored(engine, captioner, resolved.checkpoint_id)
    if out is not None:
        report.written = _write(batch, Path(out), None if dwt else size)
    return report


def _captioner(engine, home: Path, bundle, checkpoint: str, required: bool):
    """The newest captioner for the checkpoint's tokenizer and VAE (None when there is none and it is
    not `required`; `--rerank caption` without one is one clear error, before any sampling)."""
    from training.captioner.score import captioner_for, require_captioner

    if engine is None:
        if required:
            raise EmojichError("--rerank caption needs the database (its captioners are recorded there)")
        return None
    device = next(bundle.model.parameters()).device
    if required:
        return require_captioner(engine, Path(home), bundle.config, f"checkpoint {checkpoint}", device)
    return captioner_for(engine, Path(home), bundle.config, device)


def _score_stored(engine, captioner, checkpoint_id: int) -> int:
    from db.engine import read_session
    from db.samples import get_checkpoint
    from training.captioner.score import score_pending

    with read_session(engine) as s:
        run_id = get_checkpoint(s, checkpoint_id).run_id
    return score_pending(engine, captioner, run_id)


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
        caption = "" if c.caption_loss is None else f"_cl{c.caption_loss:.2f}"
        file = out / f"rank{c.rank + 1:03d}_seed{c.seed}_ppl{c.perplexity:.2f}{caption}.png"
        image.save(file)
        written.append(file)
    return written
