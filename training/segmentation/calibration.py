"""The masks a round calibrates its gate on: validation plus style-augmented copies of it.

A U-Net trained on Noto is rarely wrong on Noto's own validation split (about 5 bad masks in
143), so a threshold placed there says little about generated art. The calibration set adds
copies of every validation image run through the training's style augmentations (new palettes,
gradients, flat colours, outlines, white paint, blur and noise; masks unchanged), a batch of
copies at a time, until it holds at least `MIN_BAD` bad masks or `max_copies` copies per image.
Each image goes through the same pipeline `segment` uses (fused mask when the gate fuses), and
its IoU against the truth says whether it is good.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from training.segmentation import confidence
from training.segmentation.augment import augment
from training.segmentation.contour import ContourParams
from training.segmentation.fusion import FusionParams
from training.segmentation.inference import candidate, predict_probabilities

SCORES = ("mean", "object", "agreement")
MAX_COPIES = 4


@dataclass
class Calibration:
    scores: dict[str, list[float]] = field(default_factory=lambda: {name: [] for name in SCORES})
    ious: list[float] = field(default_factory=list)  # of the mask the gate would accept
    copies: int = 0  # augmented copies of each validation image

    @property
    def bad(self) -> int:
        return int(sum(i < confidence.BAD_IOU for i in self.ious))

    def add(self, rgb: np.ndarray, truth: np.ndarray, p: np.ndarray, fused: bool, unet_size: int,
            contour_params: ContourParams, fusion_params: FusionParams) -> None:
        c = candidate(rgb, p, fused, unet_size, contour_params, fusion_params)
        for name in SCORES:
            self.scores[name].append(c.scores[name])
        self.ious.append(confidence.mask_iou(c.mask, truth))


def augmented_copies(
    rgbs: Sequence[np.ndarray], truths: Sequence[np.ndarray], generator: torch.Generator
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """One style-augmented copy of each image (same size in, same size out), masks moved with it."""
    out_rgbs, out_truths = [], []
    for rgb, truth in zip(rgbs, truths, strict=True):
        image = torch.from_numpy(np.array(rgb, np.uint8)).permute(2, 0, 1)[None].float() / 255
        mask = torch.from_numpy(np.array(truth, np.float32))[None, None]
        image, mask = augment(image, mask, generator)
        out_rgbs.append((image[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
        out_truths.append(mask[0, 0].numpy() >= 0.5)
    return out_rgbs, out_truths


def calibration_set(
    model: torch.nn.Module, image_size: int, rgbs: Sequence[np.ndarray], truths: Sequence[np.ndarray], *,
    fused: bool = True, min_bad: int = confidence.MIN_BAD, max_copies: int = MAX_COPIES, seed: int = 0,
    contour_params: ContourParams = ContourParams(), fusion_params: FusionParams = FusionParams(),
    device: str = "cpu",
) -> Calibration:
    """Scores and IoUs on the validation images, then on augmented copies until enough are bad."""
    calibration = Calibration()
    if not rgbs:
        return calibration
    generator = torch.Generator().manual_seed(seed)
    batch_rgbs, batch_truths = list(rgbs), list(truths)
    while True:
        probs = predict_probabilities(model, image_size, batch_rgbs, device=device)
        for rgb, truth, p in zip(batch_rgbs, batch_truths, probs, strict=True):
            calibration.add(rgb, truth, p, fused, image_size, contour_params, fusion_params)
        if calibration.bad >= min_bad or calibration.copies >= max_copies:
            return calibration
        batch_rgbs, batch_truths = augmented_copies(rgbs, truths, generator)
        calibration.copies += 1
