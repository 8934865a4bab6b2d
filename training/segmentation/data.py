"""Image ↔ tensor conversion and the training set in memory.

Images are RGB uint8 arrays drawn on white; masks boolean arrays (True = opaque). The network
sees images resized to its `image_size` and normalised with ImageNet statistics (what cached
pretrained encoders expect; harmless from scratch). Training pairs are resized once, up front.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from PIL import Image

from training.segmentation.model import IMAGENET_MEAN, IMAGENET_STD

_MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
_STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
WHITE = 255


def to_rgb_on_white(image: Image.Image) -> np.ndarray:
    """Any 8-bit PIL image → RGB uint8 array; transparency is composited over white."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (WHITE, WHITE, WHITE, 255))
        canvas.alpha_composite(rgba)
        return np.asarray(canvas.convert("RGB"))
    return np.asarray(image.convert("RGB"))


def resize_rgb(rgb: np.ndarray, size: int) -> np.ndarray:
    if rgb.shape[:2] == (size, size):
        return rgb
    shrinking = rgb.shape[0] > size or rgb.shape[1] > size
    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def resize_mask(mask: np.ndarray, size: int) -> np.ndarray:
    if mask.shape[:2] == (size, size):
        return mask.astype(bool)
    soft = cv2.resize(mask.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)
    return soft >= 0.5


def to_tensor(rgbs: list[np.ndarray]) -> torch.Tensor:
    """(N, H, W, 3) uint8 → normalised float (N, 3, H, W)."""
    x = torch.from_numpy(np.stack(rgbs)).permute(0, 3, 1, 2).float().div_(255.0)
    return (x - _MEAN) / _STD


@dataclass
class PairSet:
    """Images and masks at one size, ready for batching."""

    images: torch.Tensor  # uint8 (N, 3, S, S)
    masks: torch.Tensor  # float 0/1 (N, 1, S, S)

    def __len__(self) -> int:
        return len(self.images)

    @classmethod
    def from_arrays(cls, rgbs: list[np.ndarray], masks: list[np.ndarray], size: int) -> PairSet:
        if len(rgbs) != len(masks):
            raise ValueError("as many masks as images are needed")
        if not rgbs:
            return cls(torch.zeros(0, 3, size, size, dtype=torch.uint8), torch.zeros(0, 1, size, size))
        images = np.stack([resize_rgb(r, size) for r in rgbs])
        targets = np.stack([resize_mask(m, size) for m in masks])
        return cls(
            torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(),
            torch.from_numpy(targets).unsqueeze(1).float(),
        )


