"""The segmentation model: an smp U-Net with one output channel (logit of "opaque").

A name→builder mapping covers every smp encoder; an unknown name raises a `KeyError` that lists
the valid ones. Encoder weights are never downloaded: ImageNet weights are used only when smp's two
files (config.json, model.safetensors of `smp-hub/<encoder>.imagenet` at smp's pinned revision) already
sit in the local Hugging Face cache (`encoder_weights=None` otherwise); `encoder_weights` says which, and
names the missing files and where they go when they are not there.

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
from training.segmentation.confidence import Gate

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


SMP_WEIGHT_FILES = ("config.json", "model.safetensors")  # what smp's get_encoder reads from the hub


@dataclass(frozen=True)
class EncoderWeights:
    """Whether `encoder` can start from ImageNet weights here, and if not, one line saying why."""

    encoder: str
    pretrained: bool
    missing: tuple[Path, ...] = ()
    note: str = ""


def encoder_weights(encoder: str) -> EncoderWeights:
    """Look for smp's ImageNet weights of `encoder` in the Hugging Face cache (HF_HUB_CACHE), offline."""
    from huggingface_hub import constants, try_to_load_from_cache

    settings = smp.encoders.encoders.get(encoder, {}).get("pretrained_settings", {}).get("imagenet")
    if not settings:
        return EncoderWeights(encoder, False, note=(
            f"no ImageNet weights for encoder {encoder} in smp's hub (only smp-hub/<encoder>.imagenet files are "
            "looked for); training the encoder from scratch"))
    repo, revision = settings["repo_id"], settings["revision"]
    folder = Path(constants.HF_HUB_CACHE) / f"models--{repo.replace('/', '--')}" / "snapshots" / revision
    missing = tuple(folder / name for name in SMP_WEIGHT_FILES
                    if not isinstance(try_to_load_from_cache(repo, name, revision=revision), str))
    if not missing:
        return EncoderWeights(encoder, True)
    return EncoderWeights(encoder, False, missing, note=(
        f"no ImageNet weights for {encoder}: missing {', '.join(str(m) for m in missing)} (Hugging Face cache "
        f"layout, set HF_HUB_CACHE to move it: {', '.join(SMP_WEIGHT_FILES)} of {repo} at revision {revision}); "
        "training the encoder from scratch"))


def cached_encoder_weights(encoder: str) -> str | None:
    """'imagenet' when smp's ImageNet weights for `encoder` are already in the local cache."""
    return "imagenet" if encoder_weights(encoder).pretrained else None


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
