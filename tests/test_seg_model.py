"""The U-Net factory, model files, and a few real training steps on the tiny Noto subset."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from training.segmentation.augment import augment
from training.segmentation.data import PairSet, to_rgb_on_white
from training.segmentation.model import (
    ENCODER_BUILDERS,
    Gate,
    ModelFileError,
    SegModelConfig,
    build_model,
    builder_for,
    config_for,
    load_model,
    save_model,
    small_config,
)
from training.segmentation.train import TrainConfig, evaluate, learning_rate, train_unet

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_unknown_encoder_lists_valid_names():
    with pytest.raises(KeyError) as info:
        builder_for("efficientnet-b99")
    message = info.value.args[0]
    assert "efficientnet-b99" in message and "efficientnet-b7" in message and "resnet18" in message
    with pytest.raises(KeyError):
        SegModelConfig(encoder="nope")


def test_default_trains_on_cpu_and_every_smp_encoder_is_available():
    assert SegModelConfig().encoder == "resnet18"  # B7 from scratch is no default; it stays selectable
    assert {"efficientnet-b5", "efficientnet-b7", "resnet18", "mobilenet_v2"} <= set(ENCODER_BUILDERS)
    assert config_for("resnet18").decoder_channels == (128, 64, 32, 16, 8)
    assert config_for("efficientnet-b7").decoder_channels == (256, 128, 64, 32, 16)
    with pytest.raises(ValueError, match="multiple of 32"):
        SegModelConfig("resnet18", image_size=100)


def test_small_unet_forward_and_file_round_trip(tmp_path):
    config = small_config(image_size=64)
    model = build_model(config).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        expected = model(x)
    assert expected.shape == (1, 1, 64, 64)
    path = save_model(tmp_path / "m.pt", model, config, Gate("object", 0.8), round=3)
    loaded = load_model(path)
    assert loaded.config == config and loaded.gate == Gate("object", 0.8) and loaded.round == 3
    with torch.inference_mode():
        assert torch.allclose(loaded.model(x), expected)


def test_load_model_rejects_missing_and_foreign_files(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        load_model(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ModelFileError, match="not a readable model file"):
        load_model(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ModelFileError, match="not an emojich U-Net"):
        load_model(tmp_path / "other.pt")


def test_rgba_inputs_are_composited_on_white():
    from PIL import Image

    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    rgba.putpixel((0, 0), (255, 0, 0, 255))
    rgb = to_rgb_on_white(rgba)
    assert tuple(rgb[0, 0]) == (255, 0, 0) and tuple(rgb[3, 3]) == (255, 255, 255)


def test_augment_keeps_images_and_masks_aligned(tiny_pairs):
    data = PairSet.from_arrays(tiny_pairs.rgbs[:8], tiny_pairs.masks[:8], 64)
    images, masks = data.images.float() / 255, data.masks.clone()
    generator = torch.Generator().manual_seed(1)
    for _ in range(6):
        out_images, out_masks = augment(images.clone(), masks.clone(), generator)
        # background (mask 0) must be white or near it; the drawing lives under the mask
        background = (out_masks == 0).expand_as(out_images)
        assert out_images[background].mean() > 0.95
        assert out_masks.sum() > 0


def test_learning_rate_warms_up_and_decays():
    cfg = TrainConfig(lr=1e-2)
    assert learning_rate(cfg, 0.0) < learning_rate(cfg, 0.1) == pytest.approx(1e-2)
    assert learning_rate(cfg, 1.0) == pytest.approx(0.0, abs=1e-9)


def test_a_few_training_steps_on_real_emoji_lower_the_loss(tiny_pairs):
    torch.manual_seed(0)
    config = small_config(image_size=64)
    model = build_model(config)
    rgbs, masks = tiny_pairs.split("train")
    report = train_unet(model, PairSet.from_arrays(rgbs, masks, 64), TrainConfig(epochs=3, batch_size=16, seed=0))
    assert report.steps == 3 * int(np.ceil(len(rgbs) / 16))
    assert np.mean(report.losses[-3:]) < np.mean(report.losses[:2])
    val_rgbs, val_masks = tiny_pairs.split("val")
    evaluation = evaluate(model, 64, val_rgbs, val_masks)
    assert len(evaluation.iou) == len(val_rgbs) == len(evaluation.object_scores)
    assert 0.0 <= evaluation.mean_iou <= 1.0 and 0.0 <= evaluation.mean_dice <= 1.0


def test_training_is_fixed_steps_and_the_same_twice(tiny_pairs):
    rgbs, masks = tiny_pairs.split("train")
    data = PairSet.from_arrays(rgbs[:24], masks[:24], 64)
    start = build_model(small_config(image_size=64)).state_dict()
    weights = []
    for _ in range(2):
        model = build_model(small_config(image_size=64))
        model.load_state_dict(start)
        report = train_unet(model, data, TrainConfig(epochs=1, batch_size=8, seed=3))
        assert report.steps == 3  # epochs × batches, whatever the machine's speed
        weights.append(model.state_dict())
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_fixed_steps_train_exactly_that_many_batches_across_epochs(tiny_pairs):
    model = build_model(small_config(image_size=32))
    rgbs, masks = tiny_pairs.split("train")
    data = PairSet.from_arrays(rgbs[:20], masks[:20], 32)  # 2 batches per epoch at batch 16
    report = train_unet(model, data, TrainConfig(epochs=1, steps=5, batch_size=16))
    assert report.steps == 5 and report.images_seen == 16 + 4 + 16 + 4 + 16
    with pytest.raises(ValueError, match="steps"):
        TrainConfig(steps=0)
