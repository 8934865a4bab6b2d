"""The tiny path end to end (what `emojich demo` runs): dataset → tokenizer → VAE → fine-tune.

Each stage reuses finished work: the dataset folder, `<cache>/bpe.model` and `<cache>/vae.pt` are built
only when missing, so a re-run goes straight to training.
"""
from __future__ import annotations

import time
from pathlib import Path

from tqdm.auto import tqdm

from training.config import Config
from training.dalle.data import read_examples
from training.dalle.load import tiny_files
from training.dataset.layout import dataset_dir

# A much smaller scale of configs/tiny.toml for tests and smoke runs (seconds, not minutes):
# `load_config("configs/tiny.toml", SMOKE_OVERRIDES)`. Its models go to models/tiny-smoke/.
SMOKE_OVERRIDES = [
    "model.cache_dir=\"models/tiny-smoke\"", "model.num_layers=2", "model.hidden_size=32",
    "model.num_attention_heads=2", "model.text_seq_length=12", "model.image_tokens_per_dim=4",
    "model.image_vocab_size=64", "tokenizer.vocab_size=200", "vae.resolution=16", "vae.steps=15",
    "vae.batch_size=8", "data.image_size=16", "train.batch_size=8", "train.max_steps=12", "train.log_every=2",
    "train.max_lr=3e-3", "sampling.every=4",
]


def ensure_dataset(home: Path, engine, config: Config, progress: bool = True) -> Path:
    folder = dataset_dir(home, config.data.dataset)
    if not (folder / "metadata.jsonl").is_file():
        from training.dataset import build_noto_dataset, register_dataset

        build_noto_dataset(home, name=config.data.dataset, size=config.data.build_size,
                           limit=config.data.build_limit or None, progress=progress)
        register_dataset(engine, folder)
    return folder


def train_tokenizer(home: Path, config: Config, force: bool = False) -> Path:
    from training.tokenizer_tiny import train_tokenizer as train_bpe

    _, path = tiny_files(config, home)
    if force or not path.is_file():
        examples = read_examples(dataset_dir(home, config.data.dataset), config.data.image_size)
        train_bpe(examples.captions, path, config.tokenizer.vocab_size)
    return path


def train_vae(home: Path, config: Config, force: bool = False, progress: bool = True) -> Path:
    from training.vae_tiny import train_vae as fit

    path, _ = tiny_files(config, home)
    if force or not path.is_file():
        examples = read_examples(dataset_dir(home, config.data.dataset), config.vae.resolution)
        report = fit(examples.images, config, path, progress=progress)
        tqdm.write(f"tiny VAE: {report['seconds']:.0f} s, held-in L1 {report['l1']:.3f}, "
                   f"{report['codes_used']} codes used → {path}")
    return path


def train_tiny(home: Path, engine, config: Config, name: str | None = None, progress: bool = True):
    """Dataset, tokenizer, VAE (each only if missing), then a fine-tuning run; returns its RunInfo.

    Under torchrun rank 0 prepares (the others wait), then every rank trains."""
    from training.dalle import distributed
    from training.dalle.train import train

    if config.model.source != "tiny":
        raise ValueError("train_tiny needs a config with model.source = 'tiny'")
    started = time.perf_counter()
    world = distributed.setup(config.train.device)

    def prepare() -> None:
        ensure_dataset(home, engine, config, progress)
        train_tokenizer(home, config)
        train_vae(home, config, progress=progress)

    distributed.on_main(world, prepare)
    info = train(config, home, engine, name=name, progress=progress)
    if world.is_main:
        tqdm.write(f"tiny pipeline: {time.perf_counter() - started:.0f} s")
    return info
