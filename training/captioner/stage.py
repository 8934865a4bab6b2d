"""The demo's caption-loss stage: a tiny captioner for a run's tokenizer and VAE, then every sample scored.

`caption_loss_stage(home, engine, "demo", quick=...)` trains configs/captioner-tiny.toml on the run's
dataset (its geometry and files taken from the run's config, so the two always fit) unless a captioner for
them exists, then runs the score job over the run. Both steps reuse finished work: a re-run costs a query.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from tqdm.auto import tqdm

from db.captioners import latest_captioner
from db.engine import read_session
from training.captioner.config import TINY_CONFIG, CaptionerConfig, load_captioner_config
from training.captioner.load import token_files
from training.captioner.score import ScoreReport, score_run
from training.captioner.train import CaptionerReport, train_captioner
from training.config import CONFIGS_DIR, Config

# `emojich demo --quick` and the tests: the same stage in seconds (configs/captioner-smoke.toml).
QUICK_CONFIG = CONFIGS_DIR / "captioner-smoke.toml"


def captioner_config_for_run(run_config: Config, overrides=(), base_config: Path = TINY_CONFIG) -> CaptionerConfig:
    """configs/captioner-tiny.toml (or `base_config`) with the run's model files, token geometry and dataset."""
    base = load_captioner_config(base_config, overrides)
    rm = run_config.model
    model = dataclasses.replace(
        base.model, source=rm.source, name=rm.name, hf_version=rm.hf_version, cache_dir=rm.cache_dir,
        text_seq_length=rm.text_seq_length, image_tokens_per_dim=rm.image_tokens_per_dim,
        image_vocab_size=rm.image_vocab_size,
    )
    data = dataclasses.replace(base.data, dataset=run_config.data.dataset, image_size=run_config.data.image_size)
    config = dataclasses.replace(base, model=model, data=data)
    config.check()
    return config


def caption_loss_stage(home: Path, engine, run_name: str, quick: bool = False,
                       progress: bool = True) -> tuple[CaptionerReport | None, ScoreReport]:
    """Train the tiny captioner for `run_name` (unless one fits already), then score all its samples."""
    from training.dalle.train import load_run_config

    run_config = load_run_config(engine, run_name)
    with read_session(engine) as s:
        existing = latest_captioner(s, *token_files(run_config.model, home))
        existing_name = existing.name if existing else None
    trained = None
    if existing_name is not None:
        tqdm.write(f"captioner {existing_name!r} fits this run's tokenizer and VAE: reusing it")
    else:
        config = captioner_config_for_run(run_config, base_config=QUICK_CONFIG if quick else TINY_CONFIG)
        trained = train_captioner(config, home, engine, name=f"{run_name}-captioner", progress=progress)
        tqdm.write(trained.summary())
    scored = score_run(home, engine, run_name, progress=progress)
    return trained, scored
