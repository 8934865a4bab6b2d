"""pytest fixtures for Caption Loss (registered in conftest.py).

- `caption_kit` (session): a home with a real 131-image Noto dataset of emoji *families* (hearts, circles,
  squares, clocks, animal faces, moons, arrows, flags: 24 held-out images whose captions share words with
  training ones, so a captioner can generalise), the tiny path's BPE tokenizer (YTTM format), a random-init rudalle VQGanGumbelVAE
  (its codes quantise 4×4-pixel patches at random: colour and coarse shape survive, nothing to train), and a
  tiny captioner trained on it once (200 steps), recorded in the kit's own database.
- `kit_engine` (per test): a copy of that database (the captioner row in it); `kit_env` also points the CLI
  (EMOJICH_HOME, EMOJICH_DB) at the kit.
- `add_sample_run(engine, kit, ...)`: a run with the kit's model files and checkpoints of real PNG samples.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

FAMILIES = (
    "💘 💝 💖 💗 💓 💟 💔 ❤‍🔥 ❤‍🩹 ❤ 🩷 🧡 💛 💚",  # hearts
    "🏪 🛟 🔴 🟠 🟡 🟢 🔵 🟣 🟤 ⚫",  # circles
    "☑ 🟥 🟧 🟨 🟩 🟦 🟪 🟫 ⬛ ⬜ ◼ ◻",  # squares
    "⌛ ⌚ 🕰 🕛 🕐 🕑 🕒 🕓 🕔 🕕 🕖 🕗 🕘 🕙 🕚",  # clocks
    "🐵 🐶 🐺 🦊 🦝 🐱 🦁 🐯 🐴 🐮 🐷 🐭 🐹 🐰 🐻 🐻‍❄ 🐨 🐼",  # animal faces
    "🌒 🌓 🌔 🌖 🌗 🌘 🌚 🌛 🌜 🌝",  # moons
    "⬆ ↗ ➡ ↘ ⬇ ↙ ⬅ ↖ ↕ ↔ ↩ ↪",  # arrows
    "🏳‍⚧ 🇦🇨 🇦🇩 🇦🇪 🇦🇫 🇦🇬 🇦🇮 🇦🇱 🇦🇲 🇦🇴 🇦🇶 🇦🇷 🇦🇸 🇦🇹 🇦🇺 🇦🇼 🇦🇽 🇦🇿 🇧🇦 🇧🇧 "
    "🇧🇩 🇧🇪 🇧🇫 🇧🇬 🇧🇭 🇧🇮 🇧🇯 🇧🇱 🇧🇲 🇧🇳 🇧🇴 🇧🇶 🇧🇷 🇧🇸 🇧🇹 🇧🇻 🇧🇼 🇧🇾 🇧🇿 🇨🇦",  # flags
)
DATASET = "families"
VAL_SIZE = 24
CAPTIONER = "kit-captioner"
CAPTIONER_OVERRIDES = ("train.steps=200", "train.batch_size=16", "model.num_layers=2", "model.hidden_size=64",
                       "model.num_attention_heads=2", "train.max_lr=3e-3", "train.log_every=10", "train.eval_others=8")


@dataclass(frozen=True)
class CaptionKit:
    home: Path
    db_path: Path
    run_config: object  # training.config.Config: the smoke-scale run these files belong to
    captioner_config: object  # training.captioner.config.CaptionerConfig
    report: object  # training.captioner.train.CaptionerReport


@pytest.fixture(scope="session")
def caption_kit(tmp_path_factory, migrated_template) -> CaptionKit:
    from training.captioner.train import torch_threads

    with torch_threads(1):  # tiny tensors: a second thread only waits for the other jobs on a shared CPU
        return _build_kit(tmp_path_factory.mktemp("caption_kit"), migrated_template)


def _build_kit(home: Path, migrated_template: Path) -> CaptionKit:
    from db.engine import make_engine
    from training.captioner.stage import captioner_config_for_run
    from training.captioner.train import train_captioner
    from training.config import load_config
    from training.dataset import build_noto_dataset
    from training.tiny.pipeline import train_tokenizer, train_vae

    emoji = tuple(e for family in FAMILIES for e in family.split())
    report = build_noto_dataset(home, name=DATASET, size=32, val_size=VAL_SIZE, emoji=emoji, workers=1)
    assert report.images == len(emoji), report.summary()
    run_config = load_config("smoke", [f'data.dataset="{DATASET}"', "vae.steps=0"])
    train_tokenizer(home, run_config)
    train_vae(home, run_config, progress=False)  # 0 steps: the random-init VAE, saved in the tiny path's format
    db_path = home / "kit.db"
    shutil.copy(migrated_template, db_path)
    engine = make_engine(f"sqlite:///{db_path}")
    captioner_config = captioner_config_for_run(run_config, CAPTIONER_OVERRIDES)
    trained = train_captioner(captioner_config, home, engine, name=CAPTIONER, progress=False)
    with engine.connect() as conn:  # fold the WAL into the file so a plain copy is complete
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return CaptionKit(home, db_path, run_config, captioner_config, trained)


@pytest.fixture
def kit_engine(tmp_path, caption_kit):
    from db.engine import make_engine

    path = tmp_path / "kit.db"
    shutil.copy(caption_kit.db_path, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def kit_env(kit_engine, caption_kit, monkeypatch):
    monkeypatch.setenv("EMOJICH_HOME", str(caption_kit.home))
    monkeypatch.setenv("EMOJICH_DB", str(kit_engine.url))
    return kit_engine


@dataclass(frozen=True)
class SampleRun:
    run_id: int
    name: str
    checkpoint_ids: list[int]
    sample_ids: list[int]


def add_sample_run(engine, kit: CaptionKit, name: str = "kit-run", checkpoints: int = 2) -> SampleRun:
    """A run with the kit's config and `checkpoints` checkpoints of the held-out images as samples, each
    sample's prompt its own image's caption at the last checkpoint and another image's caption before."""
    from PIL import Image

    from db.engine import write_session
    from db.runs import add_run
    from db.samples import (
        NewSample,
        add_checkpoint_with_samples,
        ensure_prompt_set,
        list_prompts,
        list_samples,
    )
    from training.config import config_to_dict
    from training.dataset.layout import read_metadata

    folder = kit.home / "datasets" / DATASET
    rows = [r for r in read_metadata(folder) if r.split == "val"]
    size = kit.run_config.data.image_size
    images = [Image.open(folder / "rgb" / r.file).convert("RGB").resize((size, size), Image.Resampling.LANCZOS)
              for r in rows]
    with write_session(engine) as s:
        run = add_run(s, name, config_to_dict(kit.run_config))
        prompts = list_prompts(s, ensure_prompt_set(s, f"{name}-val", [r.caption for r in rows]).id)
        checkpoint_ids, sample_ids = [], []
        for c in range(checkpoints):
            shift = 0 if c == checkpoints - 1 else c + 1  # earlier checkpoints: images shifted against prompts
            new = [NewSample(prompt_id=p.id, seed=7, image=images[(i + shift) % len(images)], perplexity=2.0 + c + i / 100)
                   for i, p in enumerate(prompts)]
            checkpoint = add_checkpoint_with_samples(s, run.id, c * 4, float(c), None, new)
            checkpoint_ids.append(checkpoint.id)
            sample_ids += [x.id for x in list_samples(s, checkpoint.id)]
        return SampleRun(run.id, name, checkpoint_ids, sample_ids)
