"""Build the model, tokenizer and VAE a config names.

- `source = "pretrained"`: a rudalle release (`Malevich_v2`, the report's base; `Malevich` is v3) through
  rudalle's own loaders, offline, from `model.cache_dir` in rudalle's layout; a missing file raises `MissingWeights` naming every one.
- `source = "tiny"`: `training.tiny.model.load_tiny` (random-init DalleModel, the project's own YTTM tokenizer
  and small `VQGanGumbelVAE`).
"""
from __future__ import annotations

from pathlib import Path

import torch

from db.errors import EmojichError
from training.config import Config, ModelConfig
from training.dalle.bundle import ModelBundle, cache_dir, check_files, resolve_device
from training.rudalle_import import quiet_rudalle
from training.tiny.model import load_tiny

VAE_FILE = "vae/vqgan.gumbelf8-sber.model.ckpt"
DWT_VAE_FILE = "vae/vqgan.gumbelf8-sber-dwt.model.ckpt"
TOKENIZER_FILE = "tokenizer/bpe.model"


def pretrained_files(config: ModelConfig, home: Path) -> list[Path]:
    """The files rudalle's loaders read, in its cache layout."""
    quiet_rudalle()
    from rudalle.dalle import MODELS

    if config.name not in MODELS:
        raise EmojichError(f"unknown rudalle model {config.name!r}; known: {', '.join(MODELS)}")
    check_version(config, MODELS[config.name]["hf_version"])
    root = cache_dir(config, home)
    return [root / config.name / MODELS[config.name]["filename"], root / VAE_FILE, root / TOKENIZER_FILE]


def check_version(config: ModelConfig, release_version: str) -> None:
    """The config's layout must be the release's (v2 prepends BOS; v3 does not), named in one line."""
    if config.hf_version != release_version:
        raise EmojichError(
            f"model.hf_version {config.hf_version} does not match the {config.name} weights ({release_version}); "
            f"set model.hf_version={release_version}"
        )


def offline_hub() -> None:
    """Make huggingface_hub fail fast without network, so rudalle's `cached_download` uses the cache."""
    import requests
    from huggingface_hub import configure_http_backend
    from huggingface_hub.utils._http import OfflineAdapter

    def factory() -> requests.Session:
        session = requests.Session()
        session.mount("http://", OfflineAdapter())
        session.mount("https://", OfflineAdapter())
        return session

    configure_http_backend(backend_factory=factory)


def load_pretrained(config: Config, home: Path, device: torch.device, dwt: bool = False) -> ModelBundle:
    """Malevich through rudalle's `get_rudalle_model`, `get_vae` and `get_tokenizer`, offline."""
    quiet_rudalle()
    from rudalle import get_rudalle_model, get_tokenizer, get_vae

    mc = config.model
    files = pretrained_files(mc, home)
    if dwt:
        files.append(cache_dir(mc, home) / DWT_VAE_FILE)
    check_files(files, f"ruDALL-E {mc.name} weights")
    offline_hub()
    root = str(cache_dir(mc, home))
    # get_rudalle_model shallow-copies the registry entry and updates its model_params in place with any
    # keyword we pass: we pass none, so the registry stays as shipped.
    model = get_rudalle_model(mc.name, pretrained=True, fp16=False, device=str(device), cache_dir=root)
    model.device = device
    tokenizer = get_tokenizer(path=str(files[2]))
    vae = get_vae(pretrained=True, dwt=dwt, cache_dir=root).to(device).eval()
    return ModelBundle(model=model.eval(), tokenizer=tokenizer, vae=vae, config=config, device=device)


def load_bundle(config: Config, home: Path, device: torch.device | None = None) -> ModelBundle:
    device = device or resolve_device(config.train.device)
    if config.model.source == "pretrained":
        return load_pretrained(config, home, device)
    return load_tiny(config, home, device)

