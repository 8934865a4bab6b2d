"""Upscaling small emoji to the training size: Lanczos (default) or rudalle's Real-ESRGAN ×4.

Real-ESRGAN needs its weights at `<cache_dir>/x4/RealESRGAN_x4.pth` (rudalle's own cache layout;
nothing is downloaded here). It runs on the device it is given; on CPU it is slow (tens of seconds per
emoji at the default 192 px tiles), it is meant for a GPU. It works on RGB, so colour (over white) and alpha go through it
separately and are joined again before the final Lanczos fit to the target size.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from db.errors import EmojichError
from db.home import Home

UPSCALERS = ("lanczos", "realesrgan")
REALESRGAN_FILE = Path("x4") / "RealESRGAN_x4.pth"


class MissingWeights(EmojichError):
    pass


class UnknownUpscaler(EmojichError):
    pass


def default_cache_dir(home: Path) -> Path:
    return Home.resolve(home).rudalle_cache


def realesrgan_weights(cache_dir: Path) -> Path:
    return Path(cache_dir) / REALESRGAN_FILE


def lanczos(image: Image.Image, size: int) -> Image.Image:
    if image.size == (size, size):
        return image.copy()
    # Pillow resamples RGBA premultiplied, so transparent pixels do not bleed dark fringes.
    return image.resize((size, size), Image.Resampling.LANCZOS)


class RealEsrganUpscaler:
    """Real-ESRGAN ×4 from rudalle on `device`; loaded once per build or export."""

    def __init__(
        self,
        cache_dir: Path,
        device: str = "cpu",
        patch_size: int = 192,
        padding: int = 24,
        pad_size: int = 15,
    ) -> None:
        path = realesrgan_weights(cache_dir)
        if not path.is_file():
            raise MissingWeights(
                f"Real-ESRGAN weights not found: {path} (put RealESRGAN_x4.pth from "
                "shonenkov/rudalle-utils there, or use --upscale lanczos)"
            )
        from rudalle.realesrgan.model import RealESRGAN

        self.model = RealESRGAN(device, scale=4)
        self.model.load_weights(str(path))
        self.tiling = {"patches_size": patch_size, "padding": padding, "pad_size": pad_size}

    def __call__(self, image: Image.Image, size: int) -> Image.Image:
        return lanczos(self.x4(image), size)

    def x4(self, image: Image.Image) -> Image.Image:
        """The RGBA image at four times its size: colour over white and alpha through the network apart."""
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        colour = Image.alpha_composite(white, rgba).convert("RGB")
        alpha = rgba.getchannel("A").convert("RGB")
        big_colour = self.model.predict(colour, **self.tiling)
        big_alpha = self.model.predict(alpha, **self.tiling).getchannel("R")
        big = big_colour.convert("RGBA")
        big.putalpha(big_alpha)
        return big


def make_upscaler(name: str, home: Path, cache_dir: Path | None = None, device: str = "cpu"):
    """`(image, size) -> image` for the upscaler `name` (Real-ESRGAN on `device`)."""
    if name == "lanczos":
        return lanczos
    if name == "realesrgan":
        return RealEsrganUpscaler(cache_dir or default_cache_dir(home), device=device)
    raise UnknownUpscaler(f"unknown upscaler {name!r}; expected one of {', '.join(UPSCALERS)}")
