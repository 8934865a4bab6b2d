"""The segmentation model: an smp U-Net with one output channel (logit of "opaque").

A name→builder mapping covers every smp encoder; an unknown name raises a `KeyError` that lists
the valid ones. Encoder weights are never downloaded: ImageNet weights are used only when they
already sit in the local Hugging Face cache (`encoder_weights=None` otherwise).

The saved file is one plain dict (torch loads with weights_only=True): the model config, the
state dict, the image size it was trained at and the confidence gate chosen for it, so
`load_model` rebuilds exactly the model that was trained.
"""
from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

with warnings.catch_warnings():
    # timm's import-time torch.jit.interface FutureWarning would otherwise reach every command's stderr
    warnings.simplefilter("ignore", FutureWarning)
    import segmentation_models_pytorch as smp

from db.errors import EmojichError

DEFAULT_ENCODER = "resnet18"  # trains from scratch on a CPU; the report's efficientnet-b7 stays selectable
SMALL_ENCODER = "resnet18"  # tests and the CPU demo: fastest to train on 2 cores among those measured
SMALL_DECODER_CHANNELS = (128, 64, 32, 16, 8)
FULL_DECODER_CHANNELS = (256, 128, 64, 32, 16)  # smp's default
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ModelFileError(EmojichError):
    """A segmentation model file is missing or not one of ours."""


@dataclass(frozen=True)
class SegModelConfig:
    encoder: str = DEFAULT_ENCODER
    decoder_channels: tuple[int, ...] = FULL_DECODER_CHANNELS
    image_size: int = 256  # the side images are resized to before the network sees them

    def __post_init__(self) -> None:
        builder_for(self.encoder)  # fail early, with the list of names
        if self.image_size < 32 or self.image_size % 32:
            raise ValueError(f"image_size must be a multiple of 32 and at least 32, got {self.image_size}")
        if len(self.decoder_channels) != 5:
            raise ValueError("decoder_channels needs 5 entries (one per U-Net stage)")


def small_config(image_size: int = 128) -> SegModelConfig:
    """The small model used by tests and the CPU demo."""
    return SegModelConfig(SMALL_ENCODER, SMALL_DECODER_CHANNELS, image_size)


def config_for(encoder: str, image_size: int = 256) -> SegModelConfig:
    """Small encoders get the slim decoder; everything else smp's default decoder."""
    small = encoder in {SMALL_ENCODER, "resnet34", "mobilenet_v2", "efficientnet-b0", "timm-efficientnet-b0"}
    return SegModelConfig(encoder, SMALL_DECODER_CHANNELS if small else FULL_DECODER_CHANNELS, image_size)


def cached_encoder_weights(encoder: str) -> str | None:
    """'imagenet' when smp's ImageNet weights for `encoder` are already in the local cache."""
    from huggingface_hub import try_to_load_from_cache

    settings = smp.encoders.encoders.get(encoder, {}).get("pretrained_settings", {}).get("imagenet")
    if not settings:
        return None
    found = try_to_load_from_cache(settings["repo_id"], "model.safetensors", revision=settings["revision"])
    return "imagenet" if isinstance(found, str) else None


def _unet(encoder: str, decoder_channels: tuple[int, ...], weights: str | None) -> nn.Module:
    with warnings.catch_warnings():  # timm- encoders warn that they are deprecated aliases
        warnings.simplefilter("ignore", DeprecationWarning)
        return smp.Unet(
            encoder_name=encoder,
            encoder_weights=weights,
            in_channels=3,
            classes=1,
            decoder_channels=tuple(decoder_channels),
        )


ENCODER_BUILDERS: dict[str, Callable[..., nn.Module]] = {
    name: functools.partial(_unet, name) for name in smp.encoders.get_encoder_names()
}


def builder_for(encoder: str) -> Callable[..., nn.Module]:
    try:
        return ENCODER_BUILDERS[encoder]
    except KeyError:
        raise KeyError(
            f"unknown encoder {encoder!r}; valid names: {', '.join(sorted(ENCODER_BUILDERS))}"
        ) from None


def build_model(config: SegModelConfig, *, pretrained: bool = True) -> nn.Module:
    """A U-Net for `config`; ImageNet encoder weights only if cached (never downloaded)."""
    weights = cached_encoder_weights(config.encoder) if pretrained else None
    return builder_for(config.encoder)(config.decoder_channels, weights)


@dataclass(frozen=True)
class Gate:
    """Which confidence score accepts a U-Net-decided mask (else the contour fallback), its
    threshold, and whether the U-Net only decides white regions of the contour mask (fuse, see
    fusion.py) or replaces it whole (the released switch)."""

    score: str = "mean"  # "mean" (the released code's), "object" or "agreement" (see confidence.py)
    threshold: float = 0.99
    fuse: bool = False

    def passes(self, scores: dict[str, float]) -> bool:
        return scores[self.score] >= self.threshold

    def describe(self) -> str:
        return f"{'fuse' if self.fuse else 'switch'}:{self.score}>={self.threshold:.4f}"


@dataclass
class LoadedModel:
    model: nn.Module
    config: SegModelConfig
    gate: Gate = field(default_factory=Gate)
    round: int | None = None
    path: Path | None = None


def save_model(path: Path, model: nn.Module, config: SegModelConfig, gate: Gate, round: int | None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    payload = {
        "kind": "emojich-unet",
        "config": {**asdict(config), "decoder_channels": list(config.decoder_channels)},
        "gate": asdict(gate),
        "round": round,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def load_model(path: Path, device: str = "cpu") -> LoadedModel:
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"segmentation model {path} not found")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for a bad file
        raise ModelFileError(f"{path} is not a readable model file: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("kind") != "emojich-unet":
        raise ModelFileError(f"{path} is not an emojich U-Net model file")
    raw = payload["config"]
    config = SegModelConfig(raw["encoder"], tuple(raw["decoder_channels"]), int(raw["image_size"]))
    model = build_model(config, pretrained=False)
    model.load_state_dict(payload["state_dict"])
    model.to(device).eval()
    return LoadedModel(model, config, Gate(**payload["gate"]), payload.get("round"), path)
