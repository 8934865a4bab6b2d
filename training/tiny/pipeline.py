"""The tiny path's stage order, written once: dataset → tokenizer → VAE → fine-tune.

`emojich train --config tiny|smoke`, `emojich demo`, the tests and `bench/` all call `train_tiny`. Each stage
reuses finished work: the dataset folder, `<cache>/bpe.model` and `<cache>/vae.pt` are built only when
missing, so a re-run goes straight to training (or resumes it).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tqdm.auto import tqdm

from training.config import Config
from training.dalle.data import read_examples
from training.dataset.layout import dataset_dir
from training.tiny.model import tiny_files

STAGES = ("dataset", "tokenizer", "vae", "fine-tune")


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
    from training.tiny.vae import train_vae as fit

    path, _ = tiny_files(config, home)
    if force or not path.is_file():
        examples = read_examples(dataset_dir(home, config.data.dataset), config.vae.resolution)
        report = fit(examples.images, config, path, progress=progress)
        tqdm.write(f"tiny VAE: {report['seconds']:.0f} s, held-in L1 {report['l1']:.3f}, "
                   f"{report['codes_used']} codes used → {path}")
    return path


def train_tiny(home: Path, engine, config: Config, name: str | None = None, progress: bool = True,
               resume: str | None = None, on_stage: Callable[[str], None] | None = None):
    """Every stage of STAGES in order (each only if missing), then a fine-tuning run (new, or `resume`d);
    `on_stage(name)` is told as each stage starts. Returns the run's RunInfo.

    Under torchrun rank 0 prepares (the others wait), then every rank trains."""
    from training.dalle import distributed
    from training.dalle.train import train

    if config.model.source != "tiny":
        raise ValueError("train_tiny needs a config with model.source = 'tiny'")
    started = time.perf_counter()
    world = distributed.setup(config.train.device)
    steps = {
        "dataset": lambda: ensure_dataset(home, engine, config, progress),
        "tokenizer": lambda: train_tokenizer(home, config),
        "vae": lambda: train_vae(home, config, progress=progress),
    }

    def prepare() -> None:
        for stage in STAGES[:-1]:
            if on_stage:
                on_stage(stage)
            steps[stage]()

    distributed.on_main(world, prepare)
    if on_stage and world.is_main:
        on_stage(STAGES[-1])
    if resume:
        info = train(None, home, engine, resume=resume, progress=progress)
    else:
        info = train(config, home, engine, name=name, progress=progress)
    if world.is_main:
        tqdm.write(f"tiny pipeline: {time.perf_counter() - started:.0f} s")
    return info
