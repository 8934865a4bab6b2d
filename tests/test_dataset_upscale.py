"""Upscalers: Lanczos, and rudalle's Real-ESRGAN wiring with a real (randomly initialised) RRDBNet."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from training.dataset.upscale import (
    MissingWeights,
    RealEsrganUpscaler,
    lanczos,
    make_upscaler,
    realesrgan_weights,
)


def test_lanczos_resizes_rgba():
    small = Image.new("RGBA", (10, 10), (255, 0, 0, 255))
    big = lanczos(small, 40)
    assert big.size == (40, 40) and big.mode == "RGBA"
    assert big.getpixel((20, 20)) == (255, 0, 0, 255)
    assert make_upscaler("lanczos", home=None) is lanczos


def test_realesrgan_runs_rudalles_model_from_the_cache_dir(tmp_path):
    from rudalle.realesrgan.rrdbnet_arch import RRDBNet

    with pytest.raises(MissingWeights, match="x4/RealESRGAN_x4.pth"):
        make_upscaler("realesrgan", tmp_path)
    cache = tmp_path / "models" / "rudalle"
    weights = realesrgan_weights(cache)
    weights.parent.mkdir(parents=True)
    torch.manual_seed(0)
    net = RRDBNet(num_in_ch=3, num_out_ch=3, num_feat=64, num_block=23, num_grow_ch=32, scale=4)
    torch.save(net.state_dict(), weights)
    upscaler = RealEsrganUpscaler(cache, patch_size=12, padding=2, pad_size=2)  # small tiles: fast on CPU
    image = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    image.paste((200, 30, 30, 255), (2, 2, 6, 6))
    out = upscaler(image, 24)
    assert out.size == (24, 24) and out.mode == "RGBA"
    assert upscaler.model.scale == 4
