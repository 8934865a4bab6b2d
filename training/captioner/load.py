"""Build, save and load a captioner: the base DalleModel with its tokenizer and VAE, then its weights.

- The base comes from the captioner config's `[model]`, through the same loaders as a run: a tiny
  random-init model with the project's tokenizer and VAE, or a rudalle release (Malevich) read offline from
  `model.cache_dir` (a missing file raises `MissingWeights` naming every one).
- The captioner file `<home>/models/captioner/<name>.pt` is one plain dict {"kind", "config", "model",
  "step"} (every weight of a tiny model; the trained ones of a pretrained base), read back with
  `torch.load(weights_only=True)`; the DB keeps its path relative to the home.
- Which runs it can score: those whose tokenizer and VAE files are its own (`token_files`).
"""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from db.errors import EmojichError
from training.captioner.config import CaptionerConfig, captioner_config_from_dict
from training.captioner.model import caption_losses, reversed_masks
from training.config import Config, ModelConfig
from training.dalle.bundle import MissingWeights, cache_dir, resolve_device
from training.dalle.checkpoint import load_weights, save_atomic
from training.dalle.load import TOKENIZER_FILE, VAE_FILE, load_bundle
from training.dalle.prompts import encode_prompt
from training.tiny.model import tiny_files

FILE_KIND = "emojich-captioner"


def captioner_dir(home: Path) -> Path:
    return Path(home) / "models" / "captioner"


def relative_to_home(path: Path, home: Path) -> str:
    """How the DB stores a file under the home (relative, so a moved home keeps working)."""
    path, home = Path(path).resolve(), Path(home).resolve()
    return str(path.relative_to(home)) if path.is_relative_to(home) else str(path)


def under_home(stored: str, home: Path) -> Path:
    path = Path(stored).expanduser()
    return path if path.is_absolute() else Path(home) / path


def token_files(model: ModelConfig, home: Path) -> tuple[str, str]:
    """(VAE file, tokenizer file) a model config reads, as stored in the DB: a captioner and a run go
    together exactly when these are equal."""
    if model.source == "tiny":
        vae, tokenizer = tiny_files(Config(model=model), home)
    else:
        root = cache_dir(model, home)
        vae, tokenizer = root / VAE_FILE, root / TOKENIZER_FILE
    return relative_to_home(vae, home), relative_to_home(tokenizer, home)


@dataclass
class Captioner:
    """A loaded captioner: scores (image, caption) pairs. Build with `load_captioner` or `build_base`."""

    model: torch.nn.Module  # rudalle DalleModel, read image-then-text (training/captioner/model.py)
    tokenizer: object
    vae: torch.nn.Module
    config: CaptionerConfig
    device: torch.device
    name: str | None = None
    captioner_id: int | None = None

    def __post_init__(self) -> None:
        self.masks = reversed_masks(self.model)

    @property
    def image_size(self) -> int:
        return self.config.data.image_size

    @property
    def text_seq_length(self) -> int:
        return self.model.text_seq_length

    def text_ids(self, prompts: list[str]) -> torch.Tensor:
        """Prompts as the captioner reads them (same normalisation and layout as training captions)."""
        return torch.stack([encode_prompt(self.tokenizer, p, self.text_seq_length, warn=False) for p in prompts])

    @torch.no_grad()
    def codes(self, images: list[Image.Image], batch_size: int = 64) -> torch.Tensor:
        """Image tokens [N, I] of PIL images: RGB, resized to the captioner's size, encoded by its VAE."""
        size = self.image_size
        arrays = []
        for image in images:
            rgb = image.convert("RGB")
            if rgb.size != (size, size):
                rgb = rgb.resize((size, size), Image.Resampling.LANCZOS)
            arrays.append(np.asarray(rgb, dtype=np.uint8))
        pixels = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
        out = []
        for start in range(0, len(pixels), batch_size):
            batch = pixels[start:start + batch_size].to(self.device).float() / 255
            out.append(self.vae.get_codebook_indices(batch, disable_gumbel_softmax=True).cpu())
        return torch.cat(out)

    @torch.no_grad()
    def losses(self, codes: torch.Tensor, text_ids: torch.Tensor, batch_size: int = 128) -> torch.Tensor:
        """Caption loss [N] of each (image tokens, text ids) pair (bf16 autocast on CUDA, fp32 on the CPU)."""
        was_training = self.model.training
        self.model.eval()
        cuda = self.device.type == "cuda"
        try:
            with torch.autocast("cuda", dtype=torch.bfloat16) if cuda else contextlib.nullcontext():
                out = [caption_losses(self.model, codes[s:s + batch_size].to(self.device),
                                      text_ids[s:s + batch_size].to(self.device), self.masks).float().cpu()
                       for s in range(0, len(codes), batch_size)]
        finally:
            self.model.train(was_training)
        return torch.cat(out) if out else torch.empty(0)


def png_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def build_base(config: CaptionerConfig, home: Path, device: torch.device | None = None) -> Captioner:
    """The untrained captioner: base model (tiny random init or the pretrained release), tokenizer, VAE."""
    device = device or resolve_device(config.train.device)
    bundle = load_bundle(config.base_config(), Path(home), device)
    captioner = Captioner(bundle.model, bundle.tokenizer, bundle.vae, config, device)
    _check_image_tokens(captioner)
    return captioner


def _check_image_tokens(captioner: Captioner) -> None:
    blank = Image.new("RGB", (captioner.image_size, captioner.image_size), "white")
    n = captioner.codes([blank]).shape[1]
    if n != captioner.model.image_seq_length:
        raise EmojichError(
            f"the VAE turns data.image_size {captioner.image_size} px into {n} image tokens, but the captioner "
            f"model takes {captioner.model.image_seq_length} (model.image_tokens_per_dim "
            f"{captioner.model.image_tokens_per_dim})"
        )


def save_captioner(captioner: Captioner, path: Path, step: int) -> None:
    from training.captioner.config import captioner_config_to_dict

    model = captioner.model
    full = captioner.config.model.source == "tiny"
    weights = {n: p.detach().cpu().clone() for n, p in model.named_parameters() if full or p.requires_grad}
    save_atomic({"kind": FILE_KIND, "config": captioner_config_to_dict(captioner.config), "model": weights,
                 "step": step}, Path(path))


def read_captioner_file(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise MissingWeights(f"captioner file {path} is missing (train one with `emojich captioner train`)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated or foreign: say which
        raise EmojichError(f"captioner file {path} cannot be read (truncated or not a torch file): {exc}") from exc
    if not isinstance(state, dict) or state.get("kind") != FILE_KIND:
        raise EmojichError(f"{path} is not an emojich captioner file")
    return state


def load_captioner(path: Path, home: Path, device: torch.device | None = None, name: str | None = None,
                   captioner_id: int | None = None) -> Captioner:
    """Rebuild a captioner from its file (config inside) and load its weights over the base."""
    state = read_captioner_file(path)
    config = captioner_config_from_dict(state["config"], origin=str(path))
    captioner = build_base(config, home, device)
    load_weights(captioner.model, state["model"])
    captioner.model.eval()
    captioner.name, captioner.captioner_id = name, captioner_id
    return captioner
