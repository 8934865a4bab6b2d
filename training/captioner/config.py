"""The captioner's configuration: frozen dataclasses from TOML, as strict as the training config.

A captioner file (configs/captioner-tiny.toml, configs/captioner.toml) has `name` and three sections:
`[model]` (the same keys as a run's: a tiny random-init rudalle DalleModel, or a pretrained release such
as Malevich to start from, and where its tokenizer and VAE live), `[data]` (the dataset whose train split
it learns from; the validation split is held out) and `[train]` (below). Overrides: `section.key=value`.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path

from training.config import (
    CONFIGS_DIR,
    Config,
    ConfigError,
    DataConfig,
    ModelConfig,
    TrainConfig,
    _at_least,
    _between,
    _build,
    _one_of,
    read_config_data,
)

TINY_CONFIG = CONFIGS_DIR / "captioner-tiny.toml"


@dataclass(frozen=True)
class CaptionerTrainConfig:
    freeze: list[str] = field(default_factory=list)  # "attention" and/or "mlp", as in a run's train.freeze
    optimizer: str = "adamw"
    max_lr: float = 1e-3
    pct_start: float = 0.1
    div_factor: float = 25.0
    final_div_factor: float = 100.0
    weight_decay: float = 0.01
    steps: int = 300
    batch_size: int = 64
    grad_clip: float = 1.0
    precision: str = "fp32"  # autocast dtype on CUDA; CPU runs in fp32
    log_every: int = 20
    seed: int = 0
    device: str = "auto"
    threads: int = 0  # torch CPU threads while training (0: leave torch's default); 1 is fastest on a busy CPU
    eval_others: int = 8  # held-out check: each caption is also scored on this many other held-out images
    eval_batch_size: int = 128

    def check(self) -> None:
        for part in self.freeze:
            _one_of("train.freeze entry", part, ("attention", "mlp"))
        _one_of("train.optimizer", self.optimizer, ("adamw8bit", "adamw"))
        _between("train.max_lr", self.max_lr, 1e-9, 1.0)
        _between("train.pct_start", self.pct_start, 0.0, 0.99)
        _between("train.div_factor", self.div_factor, 1.0, 1e6)
        _between("train.final_div_factor", self.final_div_factor, 1.0, 1e9)
        _between("train.weight_decay", self.weight_decay, 0.0, 1.0)
        _at_least("train.steps", self.steps, 1)
        _at_least("train.batch_size", self.batch_size, 1)
        _between("train.grad_clip", self.grad_clip, 0.0, 1e6)
        _one_of("train.precision", self.precision, ("bf16", "fp16", "fp32"))
        _at_least("train.log_every", self.log_every, 1)
        _at_least("train.seed", self.seed, 0)
        _one_of("train.device", self.device, ("auto", "cpu", "cuda"))
        _at_least("train.threads", self.threads, 0)
        _at_least("train.eval_others", self.eval_others, 1)
        _at_least("train.eval_batch_size", self.eval_batch_size, 1)


@dataclass(frozen=True)
class CaptionerConfig:
    name: str = "captioner"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: CaptionerTrainConfig = field(default_factory=CaptionerTrainConfig)

    def check(self) -> None:
        if not self.name.strip():
            raise ConfigError("name must not be empty")
        self.model.check()
        self.data.check()
        self.train.check()
        if self.model.text_seq_length < 2:
            raise ConfigError("model.text_seq_length must be ≥ 2 (BOS, then at least one caption token)")

    def base_config(self) -> Config:
        """The run-style config that names the same model, tokenizer and VAE (what `load_bundle` reads)."""
        return Config(name=self.name, model=self.model, data=self.data,
                      train=TrainConfig(seed=self.train.seed, device=self.train.device, freeze=list(self.train.freeze)))


def load_captioner_config(path: str | Path = TINY_CONFIG, overrides: typing.Sequence[str] = ()) -> CaptionerConfig:
    """A captioner config by path or shipped name (`captioner-tiny`, `captioner`), read as run configs are."""
    path, data = read_config_data(path, overrides)
    return captioner_config_from_dict(data, origin=str(path))


def captioner_config_from_dict(data: dict, origin: str = "captioner config") -> CaptionerConfig:
    config = _build(CaptionerConfig, data, prefix="", origin=origin)
    config.check()
    return config


def captioner_config_to_dict(config: CaptionerConfig) -> dict:
    return dataclasses.asdict(config)
