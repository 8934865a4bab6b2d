"""Training augmentations that change an emoji's style but never its mask.

The U-Net trains on one art style (Noto) and must answer, on art it never saw, whether a white
region belongs to the emoji. So, per image of a batch (float images in 0..1, (N, 3, S, S), on
white; masks (N, 1, S, S) in {0, 1}), each with its own probability:

- geometry: horizontal flips; shrinking onto the white canvas at a random place (generated
  emoji vary in size and position);
- colour, in "ink" space (1 − image, so white stays white whatever happens): a random channel
  mix (new palettes, same shapes), a linear gradient across the picture, flat quantisation to a
  few levels (flat vector art);
- outlines: a dark band of random width along the inside of the mask's boundary (outlined art
  such as OpenMoji), sometimes in a dark colour;
- white paint: a random ellipse of the emoji painted near-white, often cut by the boundary, so
  white touches the background while the mask stays opaque (Twemoji, Fluent);
- decoder-like damage: mild Gaussian blur and noise, only over the drawing (the background
  stays white, as on every image the pipeline sees).

`augment` keeps the masks aligned with the images (flips and placement move both; the rest
touches the image only, under the mask).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

P_SHRINK = 0.5
P_MIX = 0.6
P_GRADIENT = 0.4
P_QUANTISE = 0.25
P_OUTLINE = 0.35
P_WHITE_PAINT = 0.3
P_BLUR = 0.3
P_NOISE = 0.3


def _chance(n: int, p: float, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=generator) < p


def _uniform(shape, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(shape, generator=generator)


def _geometry(images, masks, generator):
    n, _, size, _ = images.shape
    flip = _chance(n, 0.5, generator)
    images[flip] = images[flip].flip(-1)
    masks[flip] = masks[flip].flip(-1)
    if torch.rand(1, generator=generator).item() < P_SHRINK:
        scale = 0.6 + 0.4 * torch.rand(1, generator=generator).item()
        small = max(8, int(size * scale))
        shrunk = F.interpolate(images, size=(small, small), mode="bilinear", align_corners=False, antialias=True)
        shrunk_masks = (F.interpolate(masks, size=(small, small), mode="area") >= 0.5).float()
        top, left = (int(torch.randint(0, size - small + 1, (1,), generator=generator)) for _ in range(2))
        images = torch.ones_like(images)
        images[:, :, top:top + small, left:left + small] = shrunk
        masks = torch.zeros_like(masks)
        masks[:, :, top:top + small, left:left + small] = shrunk_masks
    return images, masks


def _erode(masks: torch.Tensor, radius: int) -> torch.Tensor:
    return -F.max_pool2d(-masks, 2 * radius + 1, stride=1, padding=radius)


def _ramp(n: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """A linear ramp in −0.5..0.5 across the picture, in a random direction per image."""
    angle = _uniform((n, 1, 1), 0.0, 2 * math.pi, generator)
    coords = torch.linspace(-0.5, 0.5, size)
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    return (torch.cos(angle) * x + torch.sin(angle) * y).unsqueeze(1) / math.sqrt(0.5)


def _colour(images, masks, generator):
    n, _, size, _ = images.shape
    ink = 1.0 - images
    mix = _chance(n, P_MIX, generator)
    if mix.any():
        matrix = torch.eye(3).expand(n, 3, 3) * _uniform((n, 1, 1), 0.3, 1.0, generator)
        matrix = matrix + _uniform((n, 3, 3), 0.0, 0.7, generator) * _chance(n * 9, 0.4, generator).view(n, 3, 3)
        perm = torch.stack([torch.randperm(3, generator=generator) for _ in range(n)])
        matrix = matrix[torch.arange(n)[:, None], perm]
        mixed = torch.einsum("nij,njhw->nihw", matrix, ink).clamp(0, 1)
        ink = torch.where(mix.view(n, 1, 1, 1), mixed, ink)
    gradient = _chance(n, P_GRADIENT, generator)
    if gradient.any():
        strength = _uniform((n, 1, 1, 1), -0.8, 0.8, generator)
        shaded = (ink * (1 + strength * _ramp(n, size, generator))).clamp(0, 1)
        ink = torch.where(gradient.view(n, 1, 1, 1), shaded, ink)
    quantise = _chance(n, P_QUANTISE, generator)
    if quantise.any():
        levels = torch.randint(2, 5, (n, 1, 1, 1), generator=generator).float()
        flat = torch.round(ink * levels) / levels
        ink = torch.where(quantise.view(n, 1, 1, 1), flat, ink)
    return 1.0 - ink


def _outline(images, masks, generator):
    n, _, size, _ = images.shape
    chosen = _chance(n, P_OUTLINE, generator)
    if not chosen.any():
        return images
    width = max(1, size // 64)
    radius = int(torch.randint(width, 3 * width + 1, (1,), generator=generator))
    band = (masks - _erode(masks, radius)).clamp(0, 1) * chosen.view(n, 1, 1, 1)
    colour = _uniform((n, 3, 1, 1), 0.0, 0.3, generator) * _chance(n, 0.5, generator).view(n, 1, 1, 1)
    return images * (1 - band) + colour * band


def _white_paint(images, masks, generator):
    n, _, size, _ = images.shape
    chosen = _chance(n, P_WHITE_PAINT, generator)
    if not chosen.any():
        return images
    coords = torch.linspace(0, 1, size)
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    cy, cx = _uniform((n, 1, 1), 0.15, 0.85, generator), _uniform((n, 1, 1), 0.15, 0.85, generator)
    ry, rx = _uniform((n, 1, 1), 0.08, 0.3, generator), _uniform((n, 1, 1), 0.08, 0.3, generator)
    ellipse = (((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1).float().unsqueeze(1)
    paint = ellipse * masks * chosen.view(n, 1, 1, 1)
    white = _uniform((n, 1, 1, 1), 0.95, 1.0, generator)
    return images * (1 - paint) + white * paint


def _damage(images, masks, generator):
    n = images.shape[0]
    blur = _chance(n, P_BLUR, generator)
    if blur.any():
        sigma = _uniform(1, 0.4, 1.0, generator).item()
        taps = torch.arange(-2, 3, dtype=torch.float32)
        kernel = torch.exp(-(taps**2) / (2 * sigma**2))
        kernel = (kernel / kernel.sum()).view(1, 1, 1, 5).repeat(3, 1, 1, 1)
        blurred = F.conv2d(F.pad(images, (2, 2, 0, 0), mode="replicate"), kernel, groups=3)
        blurred = F.conv2d(F.pad(blurred, (0, 0, 2, 2), mode="replicate"), kernel.transpose(2, 3), groups=3)
        images = torch.where(blur.view(n, 1, 1, 1), blurred, images)
    noise = _chance(n, P_NOISE, generator)
    if noise.any():
        level = _uniform((n, 1, 1, 1), 0.0, 0.04, generator) * noise.view(n, 1, 1, 1)
        grain = torch.randn(images.shape, generator=generator) * level
        images = images + grain * masks  # the background stays white
    return images.clamp(0, 1)


def augment(
    images: torch.Tensor, masks: torch.Tensor, generator: torch.Generator, *, style: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Augmented copies of a batch (see the module notes); `style=False` keeps geometry only."""
    images, masks = _geometry(images, masks, generator)
    if style:
        images = _colour(images, masks, generator)
        images = _outline(images, masks, generator)
        images = _white_paint(images, masks, generator)
        images = _damage(images, masks, generator)
    return images, masks
