"""Training the U-Net: Dice + BCE (smp losses), AdamW with warm-up and cosine decay over a fixed
number of steps (`epochs` passes, or exactly `steps` batches: never cut by the clock, so every
machine trains the same model); style augmentations (augment.py); evaluation with smp's metrics (IoU and Dice
per image, at full size)."""
from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from training.segmentation import confidence
from training.segmentation.augment import augment
from training.segmentation.data import PairSet
from training.segmentation.inference import predict_probabilities
from training.segmentation.model import IMAGENET_MEAN, IMAGENET_STD, smp  # smp imported there, quietly


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 5
    steps: int | None = None  # exactly this many batches (epochs is then ignored)
    batch_size: int = 16
    lr: float = 3e-3
    weight_decay: float = 1e-4
    augment: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("epochs and batch_size must be ≥ 1 and lr > 0")
        if self.steps is not None and self.steps < 1:
            raise ValueError("steps must be ≥ 1")


@dataclass
class TrainReport:
    steps: int = 0
    seconds: float = 0.0
    images_seen: int = 0
    losses: list[float] = field(default_factory=list)


class SegLoss(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.dice = smp.losses.DiceLoss(mode="binary", from_logits=True)
        self.bce = smp.losses.SoftBCEWithLogitsLoss()

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.dice(logits, target) + self.bce(logits, target)


WARMUP = 0.1


def learning_rate(cfg: TrainConfig, progress: float) -> float:
    """Linear warm-up, then cosine decay to zero, over training progress (the share of steps done)."""
    progress = min(max(progress, 0.0), 1.0)
    if progress < WARMUP:
        return cfg.lr * max(progress / WARMUP, 0.05)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * (progress - WARMUP) / (1 - WARMUP)))


def train_unet(
    model: torch.nn.Module, data: PairSet, cfg: TrainConfig, *, device: str = "cpu", progress: bool = False
) -> TrainReport:
    if len(data) == 0:
        raise ValueError("no training images")
    generator = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    steps_per_epoch = math.ceil(len(data) / cfg.batch_size)
    total = cfg.steps if cfg.steps is not None else steps_per_epoch * cfg.epochs
    epochs = math.ceil(total / steps_per_epoch)
    model.to(device, memory_format=torch.channels_last).train()  # faster convolutions on CPU
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    loss_fn = SegLoss()
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    report = TrainReport()
    started = time.perf_counter()
    bar = tqdm(total=total, desc="training U-Net", unit="step", disable=not progress)
    for _epoch in range(epochs):
        order = torch.randperm(len(data), generator=generator)
        for start in range(0, len(data), cfg.batch_size):
            if report.steps >= total:
                break
            index = order[start:start + cfg.batch_size]
            images = data.images[index].float().div_(255.0)
            masks = data.masks[index].clone()
            if cfg.augment:
                images, masks = augment(images, masks, generator)
            x = ((images.to(device) - mean) / std).contiguous(memory_format=torch.channels_last)
            loss = loss_fn(model(x), masks.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(cfg, report.steps / total)
            optimizer.step()
            report.steps += 1
            report.images_seen += len(index)
            report.losses.append(loss.item())
            bar.update()
            bar.set_postfix(loss=f"{report.losses[-1]:.3f}")
    bar.close()
    model.eval()
    report.seconds = time.perf_counter() - started
    return report


@dataclass(frozen=True)
class Evaluation:
    iou: list[float]  # per image
    dice: list[float]
    mean_scores: list[float]  # the released confidence score, per image
    object_scores: list[float]

    @property
    def mean_iou(self) -> float | None:
        return float(np.mean(self.iou)) if self.iou else None

    @property
    def mean_dice(self) -> float | None:
        return float(np.mean(self.dice)) if self.dice else None


def evaluate(
    model: torch.nn.Module, image_size: int, rgbs: Sequence[np.ndarray], truths: Sequence[np.ndarray],
    *, device: str = "cpu",
) -> Evaluation:
    """IoU and Dice per image (smp.metrics on the full-size masks) and both confidence scores."""
    if not rgbs:
        return Evaluation([], [], [], [])
    probs = predict_probabilities(model, image_size, rgbs, device=device)
    ious, dices, means, objects = [], [], [], []
    for p, truth in zip(probs, truths, strict=True):
        pred = torch.from_numpy(p >= 0.5).long()[None, None]
        target = torch.from_numpy(np.asarray(truth, bool)).long()[None, None]
        tp, fp, fn, tn = smp.metrics.get_stats(pred, target, mode="binary")
        ious.append(float(smp.metrics.iou_score(tp, fp, fn, tn, reduction="micro", zero_division=1.0)))
        dices.append(float(smp.metrics.f1_score(tp, fp, fn, tn, reduction="micro", zero_division=1.0)))
        s = confidence.scores(p)
        means.append(s["mean"])
        objects.append(s["object"])
    return Evaluation(ious, dices, means, objects)
