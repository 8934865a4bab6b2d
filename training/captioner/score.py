"""Caption loss for every sample of a run (`emojich score --run RUN`), and after each checkpoint.

Each sample without a caption loss is scored from what the database holds: its stored PNG, re-encoded by
the run's VAE (which is the captioner's: a captioner scores a run only when both use the same VAE and
tokenizer files), and its prompt. Samples go in batches, each written in its own short transaction, so a
job stopped at any moment keeps what it wrote and the next call continues; a call with nothing left to do
writes nothing.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from db.captioners import (
    caption_loss_counts,
    clear_caption_losses,
    latest_captioner,
    set_caption_losses,
    unscored_samples,
)
from db.engine import read_session, write_session
from db.errors import EmojichError
from db.runs import find_run
from training.captioner.load import Captioner, load_captioner, png_image, token_files, under_home
from training.config import Config, ConfigError, config_from_dict


class NoCaptioner(EmojichError):
    pass


@dataclass(frozen=True)
class ScoreReport:
    run: str
    captioner: str
    scored: int  # by this call
    total: int  # samples of the run
    seconds: float

    def summary(self) -> str:
        if not self.scored:
            return f"run {self.run}: all {self.total} samples already have a caption loss (captioner {self.captioner})"
        return (f"run {self.run}: scored {self.scored} samples with captioner {self.captioner} in {self.seconds:.1f} s; "
                f"{self.total} of {self.total} have a caption loss")


def captioner_for(engine, home: Path, config: Config, device: torch.device | None = None) -> Captioner | None:
    """The newest captioner for a run config's tokenizer and VAE, loaded; None when there is none."""
    with read_session(engine) as s:
        row = latest_captioner(s, *token_files(config.model, home))
        if row is None:
            return None
        path, name, captioner_id = row.path, row.name, row.id
    return load_captioner(under_home(path, home), home, device, name=name, captioner_id=captioner_id)


def require_captioner(engine, home: Path, config: Config, what: str, device: torch.device | None = None) -> Captioner:
    captioner = captioner_for(engine, home, config, device)
    if captioner is None:
        vae, tokenizer = token_files(config.model, home)
        raise NoCaptioner(f"no captioner for {what}'s tokenizer and VAE ({tokenizer}, {vae}); "
                          "train one first: emojich captioner train")
    return captioner


def score_run(home: Path, engine, run: str, device: torch.device | None = None, batch_size: int = 64,
              rescore: bool = False, progress: bool = True) -> ScoreReport:
    """Give every sample of `run` (name or id) a caption loss; `rescore` first clears the run's scores."""
    if batch_size < 1:
        raise EmojichError("batch size must be at least 1")
    with read_session(engine) as s:
        row = find_run(s, run)
        run_id, run_name, stored = row.id, row.name, row.config
    try:
        config = config_from_dict(stored, origin=f"run {run_name}")
    except ConfigError as exc:
        raise EmojichError(f"run {run_name} has no model config to score it with ({exc})") from None
    captioner = require_captioner(engine, home, config, f"run {run_name}", device)
    started = time.perf_counter()
    if rescore:
        with write_session(engine) as s:
            clear_caption_losses(s, [run_id])
    scored = score_pending(engine, captioner, run_id, batch_size, progress)
    with read_session(engine) as s:
        _, total = caption_loss_counts(s, run_id)
    return ScoreReport(run_name, captioner.name or "?", scored, total, time.perf_counter() - started)


def score_pending(engine, captioner: Captioner, run_id: int, batch_size: int = 64, progress: bool = False) -> int:
    """Score the run's samples that have no caption loss yet, batch by batch; returns how many."""
    with read_session(engine) as s:
        done, total = caption_loss_counts(s, run_id)
    bar = tqdm(total=total - done, desc="caption loss", unit="sample", disable=not progress, dynamic_ncols=True)
    scored = 0
    try:
        while True:
            with read_session(engine) as s:
                batch = unscored_samples(s, run_id, batch_size)
            if not batch:
                break
            codes = captioner.codes([png_image(item.png) for item in batch])
            losses = captioner.losses(codes, captioner.text_ids([item.prompt for item in batch])).tolist()
            for item, loss in zip(batch, losses, strict=True):
                if not math.isfinite(loss):  # NULL in SQLite: it would be picked up again forever
                    raise EmojichError(f"caption loss of sample {item.sample_id} is not finite ({loss})")
            with write_session(engine) as s:
                set_caption_losses(s, {item.sample_id: loss for item, loss in zip(batch, losses, strict=True)})
            scored += len(batch)
            bar.update(len(batch))
    finally:
        bar.close()
    return scored


def score_after_checkpoint(home: Path, engine, run_id: int, config: Config, device: torch.device) -> int | None:
    """The fine-tuning loop's hook, once a checkpoint's samples are written: when a captioner for the run's
    tokenizer and VAE exists, score the run's unscored samples (returns how many; None without a captioner).

    The training run's random stream is left untouched, and a failure is reported, never raised: the run
    goes on and `emojich score --run RUN` fills the gap later.
    """
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        try:
            captioner = captioner_for(engine, home, config, device)
            if captioner is None:
                return None
            scored = score_pending(engine, captioner, run_id)
        except EmojichError as exc:
            tqdm.write(f"caption loss not computed ({exc}); run `emojich score --run {run_id}` later")
            return None
    tqdm.write(f"caption loss: {scored} samples scored with captioner {captioner.name}")
    return scored
