"""Train a captioner (`emojich captioner train`): one loop, read top to bottom.

1. build the base (tiny random init, or the pretrained release) and tokenize the dataset's train split
   (captions, and image codes from the frozen VAE, once);
2. minimise the caption cross-entropy (AdamW or AdamW8bit, one-cycle LR, gradient clipping);
3. check it on the held-out validation split: each caption's loss given its own image against given
   `train.eval_others` other held-out images (with another caption);
4. write the file atomically, then record the captioner row in one transaction, which also clears the
   caption losses its predecessor wrote on the runs it now scores (`emojich score` fills them again).
Nothing is recorded before the file is complete: an interrupted job leaves no row and is run again.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import torch
from tqdm.auto import tqdm

from db.captioners import CaptionerExists, add_captioner, get_captioner_by_name
from db.engine import read_session, write_session
from db.runs import list_runs
from training.captioner.config import CaptionerConfig, captioner_config_to_dict
from training.captioner.load import (
    Captioner,
    build_base,
    captioner_dir,
    relative_to_home,
    save_captioner,
    token_files,
)
from training.captioner.model import training_loss
from training.config import ConfigError, config_from_dict
from training.dalle.data import DatasetMissing, batch_indices, read_examples, tokenize
from training.dalle.freeze import cast_frozen, freeze
from training.dalle.optim import make_optimizer, make_scheduler
from training.dataset.layout import dataset_dir


@dataclass(frozen=True)
class HeldOut:
    """Caption loss on held-out pairs: given each caption's own image, and given other images."""

    pairs: int
    own: float  # mean over captions
    other: float  # mean over (caption, other image) comparisons
    share_lower: float  # share of those comparisons where the own image gives the lower loss

    @property
    def margin(self) -> float:
        return self.other - self.own


@torch.no_grad()
def held_out_check(captioner: Captioner, codes: torch.Tensor, text_ids: torch.Tensor, others: int = 8,
                   seed: int = 0, batch_size: int = 128) -> HeldOut | None:
    """Score every caption on its own image and on `others` other images (fixed seeded offsets);
    an image whose caption is the same (skin-tone variants) is not "other" and is left out."""
    n = len(codes)
    if n < 2:
        return None
    own = captioner.losses(codes, text_ids, batch_size)
    offsets = torch.randperm(n - 1, generator=torch.Generator().manual_seed(seed))[: min(others, n - 1)] + 1
    other_sum, lower, compared = 0.0, 0, 0
    for offset in offsets.tolist():
        other_codes = codes.roll(-offset, dims=0)  # row i: image (i + offset) mod n
        distinct = (text_ids != text_ids.roll(-offset, dims=0)).any(dim=1)
        loss = captioner.losses(other_codes, text_ids, batch_size)[distinct]
        other_sum += float(loss.sum())
        lower += int((own[distinct] < loss).sum())
        compared += int(distinct.sum())
    if compared == 0:
        return None
    return HeldOut(n, float(own.mean()), other_sum / compared, lower / compared)


@dataclass(frozen=True)
class CaptionerReport:
    captioner_id: int
    name: str
    path: Path
    steps: int
    train_pairs: int
    val_pairs: int
    train_loss: float
    held_out: HeldOut | None
    seconds: float
    cleared: int  # stale caption losses cleared on the runs it scores

    def summary(self) -> str:
        lines = [f"captioner {self.name} (id {self.captioner_id}): {self.steps} steps on {self.train_pairs} pairs "
                 f"in {self.seconds:.0f} s, train loss {self.train_loss:.3f} → {self.path}"]
        h = self.held_out
        if h is None:
            lines.append("  no held-out check (the dataset has no validation pairs)")
        else:
            lines.append(f"  held out ({h.pairs} pairs): caption loss {h.own:.3f} given its own image, {h.other:.3f} "
                         f"given another (margin {h.margin:.3f}); own image lower in {h.share_lower:.0%}")
        if self.cleared:
            lines.append(f"  cleared {self.cleared} caption losses of the previous captioner: run `emojich score`")
        return "\n".join(lines)


def _autocast(device: torch.device, precision: str):
    if device.type != "cuda" or precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


def runs_scored_by(session, home: Path, files: tuple[str, str]) -> list[int]:
    """Ids of the runs whose tokenizer and VAE are `files` (runs without a model config are skipped)."""
    ids = []
    for run in list_runs(session):
        try:
            config = config_from_dict(run.config, origin=f"run {run.name}")
        except ConfigError:
            continue
        if token_files(config.model, home) == files:
            ids.append(run.id)
    return ids


@contextlib.contextmanager
def torch_threads(n: int):
    """torch's CPU thread count set to `n` inside the block (0: unchanged), restored after."""
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_captioner(config: CaptionerConfig, home: Path, engine, name: str | None = None, progress: bool = True,
                    device: torch.device | None = None) -> CaptionerReport:
    with torch_threads(config.train.threads):
        return _train_captioner(config, Path(home), engine, name, progress, device)


def _train_captioner(config: CaptionerConfig, home: Path, engine, name: str | None, progress: bool,
                     device: torch.device | None) -> CaptionerReport:
    from training.dalle.train import _code_version

    tc = config.train
    name = name or f"{config.name}-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    with read_session(engine) as s:
        if get_captioner_by_name(s, name) is not None:
            raise CaptionerExists(f"a captioner named {name!r} exists; choose another --name")
    started = time.perf_counter()
    torch.manual_seed(tc.seed)
    captioner = build_base(config, home, device)
    model, device = captioner.model, captioner.device
    folder = dataset_dir(home, config.data.dataset)
    train_data = tokenize(captioner, read_examples(folder, config.data.image_size, "train"))
    try:
        val_data = tokenize(captioner, read_examples(folder, config.data.image_size, "val"))
    except DatasetMissing:
        val_data = None
    n = len(train_data.text_ids)

    report = freeze(model, tc.freeze)
    if device.type == "cuda" and tc.precision != "fp32":
        cast_frozen(model, torch.bfloat16 if tc.precision == "bf16" else torch.float16)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer, optimizer_name = make_optimizer(params, config, device)
    scheduler = make_scheduler(optimizer, config, tc.steps)
    tqdm.write(f"captioner {name}: {report}; {n} caption pairs, {tc.steps} steps, optimizer {optimizer_name}, "
               f"device {device}")

    model.train()
    window, recent = [], float("nan")
    bar = tqdm(range(tc.steps), desc="captioner", unit="it", disable=not progress, dynamic_ncols=True)
    for step in bar:
        _, index = batch_indices(n, tc.batch_size, tc.seed, step)
        with _autocast(device, tc.precision):
            loss = training_loss(model, train_data.image_codes[index].to(device), train_data.text_ids[index].to(device),
                                 captioner.masks)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, tc.grad_clip if tc.grad_clip > 0 else float("inf"))
        optimizer.step()
        scheduler.step()
        window.append(float(loss.detach()))
        if (step + 1) % tc.log_every == 0 or step + 1 == tc.steps:
            recent = sum(window) / len(window)
            window = []
            bar.set_postfix(loss=f"{recent:.3f}")
    bar.close()
    model.eval()

    held_out = None if val_data is None else held_out_check(
        captioner, val_data.image_codes, val_data.text_ids, tc.eval_others, tc.seed, tc.eval_batch_size)
    path = captioner_dir(home) / f"{name}.pt"
    save_captioner(captioner, path, tc.steps)
    files = token_files(config.model, home)
    seconds = time.perf_counter() - started
    with write_session(engine) as s:
        row, cleared = add_captioner(
            s, stale_run_ids=runs_scored_by(s, home, files), name=name, config=captioner_config_to_dict(config),
            path=relative_to_home(path, home), vae_file=files[0], tokenizer_file=files[1],
            dataset=config.data.dataset, train_pairs=n, val_pairs=0 if val_data is None else len(val_data.text_ids),
            steps=tc.steps, seconds=seconds, train_loss=recent,
            val_loss_own=None if held_out is None else held_out.own,
            val_loss_other=None if held_out is None else held_out.other,
            val_share_lower=None if held_out is None else held_out.share_lower,
            code_version=_code_version(),
        )
        captioner_id = row.id
    return CaptionerReport(captioner_id, name, path, tc.steps, n, 0 if val_data is None else len(val_data.text_ids),
                           recent, held_out, seconds, cleared)
