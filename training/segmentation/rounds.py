"""One pseudo-labelling round (the report, section VI), top to bottom:

1. read the training masks (ground truth, accepted pseudo-labels, manual fixes), the validation
   masks and the generated samples no round or person has decided on yet;
2. train the U-Net, from the previous round's weights when they fit, else from scratch (with the
   encoder's ImageNet weights when they are in the local cache; one line says so when they are not);
3. evaluate on validation (IoU, Dice of the U-Net alone), then calibrate the gate on validation
   plus style-augmented copies of it (calibration.py) with the pipeline's own masks (fused:
   the contour outline with the U-Net deciding white regions): the score that better separates
   bad masks (IoU < 0.95) from good ones, at a threshold where ≥ 95 % of the accepted are good;
4. save the model to `<home>/models/segmentation/round_N.pt`;
5. predict on the undecided samples: masks passing the gate become pseudo-labels (source unet,
   accepted, round N); the rest are queued for review with the same pipeline mask as the
   suggestion (source contour, needs_review; with `--gate released`, the contour method's mask),
   both with the U-Net's two confidence scores;
6. record the round (one transaction with all its masks), with whether its encoder started from
   ImageNet weights, and say whether validation IoU has stopped improving, in which case another
   round is not worth it.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from sqlalchemy import Engine

from db.engine import read_session, write_session
from db.errors import EmojichError
from db.home import Home
from db.images import PreparedImage, get_image, prepare_image
from db.masks import NewMask, add_masks
from db.segmentation import (
    TrainingMask,
    add_segmentation_round,
    list_segmentation_rounds,
    list_training_masks,
    list_undecided_samples,
    list_validation_masks,
    next_round_number,
)
from training.dataset.layout import dataset_dir
from training.segmentation.calibration import calibration_set
from training.segmentation.confidence import GATE_MODES, GateChoice, choose_gate
from training.segmentation.contour import ContourParams
from training.segmentation.data import PairSet, to_rgb_on_white
from training.segmentation.inference import segment
from training.segmentation.model import (
    DEFAULT_ENCODER,
    Gate,
    LoadedModel,
    ModelFileError,
    build_model,
    config_for,
    encoder_weights,
    load_model,
    save_model,
)
from training.segmentation.train import TrainConfig, TrainReport, evaluate, train_unet

PLATEAU_DELTA = 0.002  # a round that lifts validation IoU by less than this has plateaued
# Round 1 as the CPU demo trains it (and bench/bench_segment.py measures it): fixed steps, never a
# wall-clock budget, so what is computed does not depend on the machine's speed.
DEMO_ROUND = {"encoder": "resnet18", "image_size": 64, "steps": 400, "batch_size": 16, "lr": 3e-3}
PREDICT_CHUNK = 64


class NoTrainingData(EmojichError):
    pass


def model_dir(home: Path) -> Path:
    return Home.resolve(home).segmentation_models


@dataclass
class RoundResult:
    round: int
    encoder: str
    started_from: str  # "scratch" or the previous model's path
    train_size: int
    val_size: int
    val_iou: float | None
    val_dice: float | None
    gate: GateChoice
    predicted: int
    accepted: int
    queued: int
    plateau: bool
    best_previous_iou: float | None
    model_path: Path
    training: TrainReport
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    encoder_pretrained: bool | None = None  # the encoder started from ImageNet weights (None: unknown)

    @property
    def share_accepted(self) -> float | None:
        return self.accepted / self.predicted if self.predicted else None

    def summary(self) -> str:
        fmt = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
        auc = ", ".join(f"{k} {fmt(v)}" for k, v in self.gate.auc.items())
        lines = [
            f"round {self.round}: {self.encoder} from {self.started_from}, {self.training.steps} steps "
            f"({self.training.images_seen} images) in {self.training.seconds:.1f}s; encoder "
            + {True: "from ImageNet weights", False: "without ImageNet weights", None: "weights unknown"}[
                self.encoder_pretrained],
            f"  train {self.train_size} masks, validation {self.val_size}: IoU {fmt(self.val_iou)}, "
            f"Dice {fmt(self.val_dice)}",
            f"  gate {self.gate.gate.describe()} ({self.gate.reason}; AUC for bad masks: {auc})",
            f"  predicted {self.predicted} samples: {self.accepted} pseudo-labels, {self.queued} queued for review"
            + (f" (share accepted {self.share_accepted:.2f})" if self.predicted else ""),
            f"  model {self.model_path}; round took {self.seconds:.1f}s",
        ]
        if self.plateau:
            lines.append(
                f"  plateau: validation IoU {fmt(self.val_iou)} is not above the best earlier round's "
                f"{fmt(self.best_previous_iou)} by {PLATEAU_DELTA}; another round is not worth it"
            )
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def clean_model_leftovers(home: Path, keep: set[str]) -> list[Path]:
    """Remove model files no round row points at (a round killed between saving its model and
    committing its row) and half-written temporary files; returns what was removed."""
    folder = model_dir(home)
    if not folder.is_dir():
        return []
    leftovers = [p for p in folder.glob("round_*.pt") if p.name not in keep] + list(folder.glob(".round_*.pt.tmp"))
    for path in leftovers:
        path.unlink(missing_ok=True)
    return leftovers


def _mask_array(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L")) >= 128


def _load_pairs(session, home: Path, records: list[TrainingMask]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rgbs, masks = [], []
    for record in records:
        if record.sample_id is not None:
            rgb = to_rgb_on_white(get_image(session, record.sample_image_sha256))
        else:
            path = dataset_dir(home, record.dataset) / "rgb" / record.file
            try:
                with Image.open(path) as image:
                    rgb = to_rgb_on_white(image)
            except OSError as exc:
                raise EmojichError(f"cannot read dataset image {path}: {exc}") from exc
        mask = _mask_array(get_image(session, record.mask_sha256))
        if mask.shape != rgb.shape[:2]:
            raise EmojichError(f"mask {record.mask_id} is {mask.shape} but its image is {rgb.shape[:2]}")
        rgbs.append(rgb)
        masks.append(mask)
    return rgbs, masks


def _start_model(config, from_previous: bool, previous_path: str | None, previous_pretrained: bool | None,
                 notes: list[str], on_note: Callable[[str], None] | None):
    """(model, where it started, whether its encoder started from ImageNet weights)."""
    if from_previous and previous_path:
        try:
            loaded = load_model(Path(previous_path))
        except ModelFileError as exc:
            notes.append(f"previous model unusable ({exc}); training from scratch")
        else:
            if loaded.config == config:
                return loaded.model, str(previous_path), previous_pretrained
            notes.append(f"previous model is {loaded.config}; training {config} from scratch")
    weights = encoder_weights(config.encoder)
    if not weights.pretrained and on_note is not None:
        on_note(weights.note)  # before training starts, not only in the summary after it
    elif not weights.pretrained:
        notes.append(weights.note)
    return build_model(config, pretrained=weights.pretrained), "scratch", weights.pretrained


def _png(mask: np.ndarray) -> PreparedImage:
    """Encoded and hashed here, outside the round's write transaction."""
    return prepare_image(Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), "L"))


def run_round(
    engine: Engine,
    home: Path,
    *,
    encoder: str = DEFAULT_ENCODER,
    image_size: int = 256,
    epochs: int = 5,
    steps: int | None = None,
    batch_size: int = 16,
    lr: float = 3e-3,
    from_previous: bool = True,
    gate_mode: str = "auto",
    fixed_gate: Gate | None = None,
    contour_params: ContourParams = ContourParams(),
    plateau_delta: float = PLATEAU_DELTA,
    device: str = "cpu",
    seed: int = 0,
    progress: bool = False,
    on_note: Callable[[str], None] | None = None,
) -> RoundResult:
    started = time.perf_counter()
    home = Path(home)
    if gate_mode not in GATE_MODES:  # checked before training, not after it
        raise EmojichError(f"unknown gate {gate_mode!r}; expected one of {', '.join(GATE_MODES)}")
    config = config_for(encoder, image_size)
    train_cfg = TrainConfig(
        epochs=epochs, steps=steps, batch_size=batch_size, lr=lr, seed=seed
    )
    notes: list[str] = []

    with read_session(engine) as session:
        number = next_round_number(session)
        earlier = list_segmentation_rounds(session)
        train_records = list_training_masks(session)
        val_records = list_validation_masks(session)
        if not train_records:
            raise NoTrainingData(
                "no training masks yet: build and register a dataset first (`emojich dataset build`)"
            )
        train_rgbs, train_masks = _load_pairs(session, home, train_records)
        val_rgbs, val_masks = _load_pairs(session, home, val_records)
        undecided = list_undecided_samples(session)
    previous = next((r for r in reversed(earlier) if r.model_path), None)
    previous_path = None if previous is None else str(Home.resolve(home).from_stored(previous.model_path))
    previous_pretrained = None if previous is None else previous.encoder_pretrained
    clean_model_leftovers(home, {Path(r.model_path).name for r in earlier if r.model_path})

    torch.manual_seed(seed)  # a model from scratch starts from the same weights whatever ran before in this process
    model, started_from, pretrained = _start_model(config, from_previous, previous_path, previous_pretrained, notes,
                                                   on_note)
    report = train_unet(
        model, PairSet.from_arrays(train_rgbs, train_masks, image_size), train_cfg, device=device, progress=progress
    )
    del train_rgbs, train_masks

    evaluation = evaluate(model, image_size, val_rgbs, val_masks, device=device)
    fused = gate_mode != "released"
    calibration = calibration_set(
        model, image_size, val_rgbs, val_masks, fused=fused, contour_params=contour_params, device=device, seed=seed
    )
    gate = choose_gate(calibration.scores, calibration.ious, mode=gate_mode, fuse=fused)
    if calibration.copies:
        notes.append(
            f"gate calibrated on {len(calibration.ious)} masks ({calibration.copies} style-augmented copies of "
            f"validation), {calibration.bad} bad"
        )
    if fixed_gate is not None:
        gate = GateChoice(fixed_gate, gate.auc, "fixed by the caller")
    path = save_model(Home.resolve(home).segmentation_model(number), model, config, gate.gate, number)
    try:  # the model file exists only with its round row: an interruption before the commit removes it
        loaded = LoadedModel(model, config, gate.gate, number, path)

        new_masks: list[tuple[int, PreparedImage, str, float | None, float | None]] = []
        for start in range(0, len(undecided), PREDICT_CHUNK):
            chunk = undecided[start:start + PREDICT_CHUNK]
            with read_session(engine) as session:
                rgbs = [to_rgb_on_white(get_image(session, sha)) for _, sha in chunk]
            for (sample_id, _), result in zip(chunk, segment(rgbs, loaded, contour_params, device=device), strict=True):
                new_masks.append(
                    (sample_id, _png(result.mask), result.method, result.confidence_mean, result.confidence_object)
                )
        accepted = sum(1 for m in new_masks if m[2] == "unet")

        best_previous = max((r.val_iou for r in earlier if r.val_iou is not None), default=None)
        plateau = (
            evaluation.mean_iou is not None
            and best_previous is not None
            and evaluation.mean_iou - best_previous < plateau_delta
        )
        with write_session(engine) as session:
            add_masks(session, [
                NewMask(image, source=method, status="accepted" if method == "unet" else "needs_review",
                        sample_id=sample_id, round=number, confidence_mean=mean, confidence_object=second)
                for sample_id, image, method, mean, second in new_masks
            ])
            add_segmentation_round(
                session,
                round=number,
                encoder=encoder,
                train_size=len(train_records),
                val_size=len(val_records),
                val_iou=evaluation.mean_iou,
                val_dice=evaluation.mean_dice,
                predicted=len(new_masks),
                share_accepted=accepted / len(new_masks) if new_masks else None,
                gate=gate.gate.describe(),
                plateau=plateau,
                model_path=Home.resolve(home).to_stored(path),
                encoder_pretrained=pretrained,
            )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if not val_records:
        notes.append("no validation masks: the released gate (mean ≥ 0.99) is used and IoU is not measured")
    return RoundResult(
        round=number,
        encoder=encoder,
        started_from=started_from,
        train_size=len(train_records),
        val_size=len(val_records),
        val_iou=evaluation.mean_iou,
        val_dice=evaluation.mean_dice,
        gate=gate,
        predicted=len(new_masks),
        accepted=accepted,
        queued=len(new_masks) - accepted,
        plateau=plateau,
        best_previous_iou=best_previous,
        model_path=path,
        training=report,
        seconds=time.perf_counter() - started,
        notes=notes,
        encoder_pretrained=pretrained,
    )
