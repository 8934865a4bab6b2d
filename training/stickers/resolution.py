"""How a sticker's content reaches 512 px: the report's way where its weights are here, Lanczos otherwise.

Paths, recorded per sticker in the export's manifest:
- `native`: the trimmed content is already at least 512 px (a sample decoded at 512 px by rudalle's DWT VAE,
  `emojich generate --size 512`); it is only fitted, never enlarged;
- `realesrgan-x4`: rudalle's Real-ESRGAN ×4 (weights at `<home>/models/rudalle/x4/RealESRGAN_x4.pth`) on the
  chosen device, colour over white and the mask's alpha apart, then fitted to 512 px;
- `lanczos`: plain Lanczos enlargement, the labelled fallback when the Real-ESRGAN weights are absent (or
  when asked for); the manifest and the summary say why.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from db.errors import EmojichError
from training.dataset.upscale import RealEsrganUpscaler, realesrgan_weights
from training.stickers.sticker import SIDE

UPSCALE_MODES = ("auto", "realesrgan", "lanczos")
NATIVE, REALESRGAN, LANCZOS = "native", "realesrgan-x4", "lanczos"


@dataclass
class Resolution:
    """Chooses and applies the path for each trimmed sticker image."""

    mode: str = "lanczos"
    device: str = "cpu"
    upscaler: RealEsrganUpscaler | None = None
    fallback: str | None = None  # why Lanczos is used instead of Real-ESRGAN, if it is

    def enlarge(self, trimmed: Image.Image) -> tuple[Image.Image, str]:
        """(image to fit to 512 px, path taken) for a trimmed RGBA sticker."""
        if max(trimmed.size) >= SIDE:
            return trimmed, NATIVE
        if self.upscaler is not None:
            return self.upscaler.x4(trimmed), REALESRGAN
        return trimmed, LANCZOS


def make_resolution(mode: str = "auto", cache_dir: Path | None = None, device: str = "cpu",
                    **tiling) -> Resolution:
    """`auto`: Real-ESRGAN where its weights are in `cache_dir`, else Lanczos (labelled); `realesrgan`: the
    weights must be there (one clear error otherwise); `lanczos`: Lanczos only. `tiling` goes to Real-ESRGAN."""
    if mode not in UPSCALE_MODES:
        raise EmojichError(f"unknown upscale mode {mode!r}; expected one of {', '.join(UPSCALE_MODES)}")
    if mode == "lanczos":
        return Resolution(mode, device, fallback="--upscale lanczos")
    weights = realesrgan_weights(cache_dir) if cache_dir is not None else None
    if mode == "auto" and (weights is None or not weights.is_file()):
        reason = f"no Real-ESRGAN weights at {weights}" if weights else "no model cache given"
        return Resolution(mode, device, fallback=reason)
    if cache_dir is None:
        raise EmojichError("--upscale realesrgan needs the model cache (<home>/models/rudalle)")
    return Resolution(mode, device, RealEsrganUpscaler(cache_dir, device=device, **tiling))
