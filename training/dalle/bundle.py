"""What a loaded model is (`ModelBundle`), where its files live, and the one missing-files error."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from db.errors import EmojichError
from db.home import Home
from training.config import Config, ModelConfig


class MissingWeights(EmojichError):
    pass


@dataclass
class ModelBundle:
    """What generation and training need: model, tokenizer, VAE and the geometry in one place."""

    model: torch.nn.Module  # rudalle DalleModel
    tokenizer: object  # rudalle YTTMTokenizerWrapper
    vae: torch.nn.Module  # rudalle VQGanGumbelVAE
    config: Config
    device: torch.device

    @property
    def hf_version(self) -> str:
        return self.model.hf_version

    @property
    def text_seq_length(self) -> int:
        return self.model.text_seq_length

    @property
    def image_size(self) -> int:
        return self.config.data.image_size


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise EmojichError("train.device is cuda but no CUDA device is available")
    return torch.device(name)


def cache_dir(config: ModelConfig, home: Path) -> Path:
    return Home.resolve(home).path(config.cache_dir)


def check_files(files: list[Path], what: str) -> None:
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise MissingWeights(
            f"{what}: missing {', '.join(missing)} (no network here: place the files in rudalle's cache layout "
            "or set model.cache_dir)"
        )
