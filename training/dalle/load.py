"""Build the model, tokenizer and VAE a config names.

- `source = "pretrained"`: a rudalle release (`Malevich_v2`, the report's base; `Malevich` is v3) through rudalle's own loaders, offline, from
  `model.cache_dir` in rudalle's layout; a missing file raises `MissingWeights` naming every one.
- `source = "tiny"`: a random-init rudalle `DalleModel` of small size, the project's own YTTM tokenizer
  and small `VQGanGumbelVAE` (trained by `training.tokenizer_tiny` / `training.vae_tiny`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from db.errors import EmojichError
from training.config import Config, ModelConfig

VAE_FILE = "vae/vqgan.gumbelf8-sber.model.ckpt"
DWT_VAE_FILE = "vae/vqgan.gumbelf8-sber-dwt.model.ckpt"
TOKENIZER_FILE = "tokenizer/bpe.model"
TINY_VAE_FILE = "vae.pt"
TINY_TOKENIZER_FILE = "bpe.model"


class MissingWeights(EmojichError):
    pass


def quiet_rudalle() -> None:
    """Import rudalle once without its import-time FutureWarning (torch.jit.script), which would
    otherwise reach every command's stderr."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import rudalle  # noqa: F401


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
    path = Path(config.cache_dir).expanduser()
    return path if path.is_absolute() else Path(home) / path


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


def check_files(files: list[Path], what: str) -> None:
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise MissingWeights(
            f"{what}: missing {', '.join(missing)} (no network here: place the files in rudalle's cache layout "
            "or set model.cache_dir)"
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


def build_tiny_model(mc: ModelConfig, text_vocab_size: int, seed: int = 0):
    """A random-init rudalle DalleModel of the config's geometry (text vocab = tokenizer + positions)."""
    quiet_rudalle()
    from rudalle.dalle import DalleModel

    torch.manual_seed(seed)
    return DalleModel(
        device="cpu",
        num_layers=mc.num_layers,
        vocab_size=text_vocab_size + mc.text_seq_length,
        hidden_size=mc.hidden_size,
        num_attention_heads=mc.num_attention_heads,
        embedding_dropout_prob=mc.dropout,
        attention_dropout_prob=mc.dropout,
        output_dropout_prob=mc.dropout,
        text_seq_length=mc.text_seq_length,
        image_tokens_per_dim=mc.image_tokens_per_dim,
        image_vocab_size=mc.image_vocab_size,
        cogview_sandwich_layernorm=True,
        cogview_pb_relax=True,
        hf_version=mc.hf_version,
    )


def tiny_files(config: Config, home: Path) -> tuple[Path, Path]:
    root = cache_dir(config.model, home)
    return root / TINY_VAE_FILE, root / TINY_TOKENIZER_FILE


def load_tiny(config: Config, home: Path, device: torch.device, seed: int | None = None) -> ModelBundle:
    from training.tokenizer_tiny import load_tokenizer
    from training.vae_tiny import load_vae

    vae_path, tok_path = tiny_files(config, home)
    check_files([vae_path, tok_path], "tiny model files (train them with training.pipeline.train_tiny)")
    tokenizer = load_tokenizer(tok_path)
    vae = load_vae(vae_path).to(device).eval()
    if vae.num_tokens != config.model.image_vocab_size:
        raise EmojichError(
            f"the tiny VAE has {vae.num_tokens} codes but model.image_vocab_size is {config.model.image_vocab_size}"
        )
    model = build_tiny_model(config.model, tokenizer.vocab_size(), config.train.seed if seed is None else seed)
    model = model.to(device)
    model.device = device
    return ModelBundle(model=model.eval(), tokenizer=tokenizer, vae=vae, config=config, device=device)


def load_bundle(config: Config, home: Path, device: torch.device | None = None) -> ModelBundle:
    device = device or resolve_device(config.train.device)
    if config.model.source == "pretrained":
        return load_pretrained(config, home, device)
    return load_tiny(config, home, device)
