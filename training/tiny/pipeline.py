"""The tiny path's stage order, written once: dataset → tokenizer → VAE → fine-tune.

`emojich train --config tiny|smoke`, `emojich demo`, the tests and `bench/` all go through `tiny_stages`
(`train_tiny` runs them in order). Each stage reuses finished work: the dataset folder, `<cache>/bpe.model`
and `<cache>/vae.pt` are built only when missing, so a re-run goes straight to training (or resumes it).
The VAE stage copies the VAE shipped in the repository (training/tiny/shipped/) when the config names one
that was trained with exactly its settings, and trains one otherwise.

Every stage computes a fixed amount of work from fixed seeds on a fixed number of CPU threads
(`train.threads`), so two machines running the same config get the same models, whatever their speed.
"""
from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from training.config import Config
from training.dalle.data import read_examples
from training.dataset.layout import dataset_dir
from training.tiny.model import tiny_files

STAGES = ("dataset", "tokenizer", "vae", "fine-tune")


@dataclass(frozen=True)
class TinyStage:
    name: str  # one of STAGES
    run: Callable[[], object]


def use_threads(config: Config) -> None:
    """The CPU thread count the tiny path computes with: fixed by the config, never by the machine. On a busy
    2-core machine one thread is also the fastest (bench/bench_tiny_vae.py: 2 threads took 8× longer)."""
    if config.train.threads:
        torch.set_num_threads(config.train.threads)


def ensure_dataset(home: Path, engine, config: Config, progress: bool = True) -> Path:
    folder = dataset_dir(home, config.data.dataset)
    if not (folder / "metadata.jsonl").is_file():
        from training.dataset import build_noto_dataset, register_dataset

        build_noto_dataset(home, name=config.data.dataset, size=config.data.build_size,
                           limit=config.data.build_limit or None, progress=progress)
        register_dataset(engine, folder)
    return folder


def train_tokenizer(home: Path, config: Config, force: bool = False) -> Path:
    from training.tiny.tokenizer import train_tokenizer as train_bpe

    _, path = tiny_files(config, home)
    if force or not path.is_file():
        examples = read_examples(dataset_dir(home, config.data.dataset), config.data.image_size)
        train_bpe(examples.captions, path, config.tokenizer.vocab_size)
    return path


def train_vae(home: Path, config: Config, force: bool = False, progress: bool = True) -> Path:
    """`<cache>/vae.pt`: kept if present, else the shipped VAE made with these settings, else trained."""
    from training.tiny.vae import shipped_vae

    path, _ = tiny_files(config, home)
    if path.is_file() and not force:
        return path
    shipped, why_not = shipped_vae(config)
    if shipped is not None and not force:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shipped, path.with_suffix(".tmp"))
        path.with_suffix(".tmp").replace(path)
        tqdm.write(f"tiny VAE: the shipped {shipped.name} (made by `emojich tiny-vae`, same settings) → {path}")
        return path
    if why_not:
        tqdm.write(f"tiny VAE: training one ({why_not})")
    report = make_vae_file(home, config, path, progress=progress)
    tqdm.write(f"tiny VAE: {config.vae.steps} steps in {report['seconds']:.0f} s, held-in L1 {report['l1']:.3f}, "
               f"{report['codes_used']} codes used → {path}")
    return path


def make_vae_file(home: Path, config: Config, path: Path, progress: bool = True) -> dict:
    """Train the config's VAE on its dataset's training images into `path` (what `emojich tiny-vae` runs)."""
    from training.tiny.vae import train_vae as fit

    use_threads(config)
    examples = read_examples(dataset_dir(home, config.data.dataset), config.vae.resolution)
    return fit(examples.images, config, Path(path), progress=progress)


def fine_tune(home: Path, engine, config: Config, name: str | None = None, resume: str | None = None,
              progress: bool = True):
    """A new fine-tuning run, or `resume` one from its last checkpoint. Returns its RunInfo."""
    from training.dalle.train import train

    if resume:
        return train(None, home, engine, resume=resume, progress=progress)
    return train(config, home, engine, name=name, progress=progress)


def tiny_stages(home: Path, engine, config: Config, name: str | None = None, progress: bool = True,
                resume: str | None = None) -> list[TinyStage]:
    """The stages of STAGES as calls, in order; the last one returns the run's RunInfo."""
    if config.model.source != "tiny":
        raise ValueError("the tiny pipeline needs a config with model.source = 'tiny'")
    calls = {
        "dataset": lambda: ensure_dataset(home, engine, config, progress),
        "tokenizer": lambda: train_tokenizer(home, config),
        "vae": lambda: train_vae(home, config, progress=progress),
        "fine-tune": lambda: fine_tune(home, engine, config, name=name, resume=resume, progress=progress),
    }
    return [TinyStage(stage, calls[stage]) for stage in STAGES]


def train_tiny(home: Path, engine, config: Config, name: str | None = None, progress: bool = True,
               resume: str | None = None, on_stage: Callable[[str], None] | None = None):
    """Every stage of STAGES in order (each only if missing), then a fine-tuning run (new, or `resume`d);
    `on_stage(name)` is told as each stage starts. Returns the run's RunInfo.

    Under torchrun rank 0 prepares (the others wait), then every rank trains."""
    from training.dalle import distributed

    started = time.perf_counter()
    stages = tiny_stages(home, engine, config, name=name, progress=progress, resume=resume)
    world = distributed.setup(config.train.device)

    def prepare() -> None:
        for stage in stages[:-1]:
            if on_stage:
                on_stage(stage.name)
            stage.run()

    distributed.on_main(world, prepare)
    if on_stage and world.is_main:
        on_stage(stages[-1].name)
    info = stages[-1].run()
    if world.is_main:
        tqdm.write(f"tiny pipeline: {time.perf_counter() - started:.0f} s")
    return info
