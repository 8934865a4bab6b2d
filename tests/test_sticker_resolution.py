"""Stickers reach 512 px the report's way where the weights are here (rudalle's Real-ESRGAN ×4 on the chosen
device; samples already at 512 px, as the DWT VAE decodes them, are only fitted), Lanczos otherwise; the
export's manifest records the path each sticker took. Real-ESRGAN is rudalle's own class with a real,
randomly initialised RRDBNet (the real weights are not here)."""
from __future__ import annotations

import io
import json
import zipfile

import pytest
import torch
from PIL import Image

from db.engine import read_session
from db.errors import EmojichError
from training.dataset.upscale import MissingWeights, realesrgan_weights
from training.stickers.export import MANIFEST, export_stickers, write_sticker_set
from training.stickers.resolution import LANCZOS, NATIVE, REALESRGAN, Resolution, make_resolution
from training.stickers.sticker import SIDE, trim

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TILES = {"patch_size": 12, "padding": 2, "pad_size": 2}  # small tiles: fast on CPU


def _blob(side: int, colour=(200, 40, 40, 255), inner: int | None = None) -> Image.Image:
    image = Image.new("RGBA", (side, side), (255, 255, 255, 0))
    inner = inner or max(2, side * 5 // 8)
    image.paste(Image.new("RGBA", (inner, inner), colour), ((side - inner) // 2, (side - inner) // 2))
    return image


@pytest.fixture
def esrgan_cache(tmp_path):
    """rudalle's cache layout with Real-ESRGAN ×4 weights (a random-init RRDBNet of the real geometry)."""
    from rudalle.realesrgan.rrdbnet_arch import RRDBNet

    cache = tmp_path / "models" / "rudalle"
    weights = realesrgan_weights(cache)
    weights.parent.mkdir(parents=True)
    torch.manual_seed(0)
    net = RRDBNet(num_in_ch=3, num_out_ch=3, num_feat=64, num_block=23, num_grow_ch=32, scale=4)
    torch.save(net.state_dict(), weights)
    return cache


def _manifest(out) -> dict:
    if str(out).endswith(".zip"):
        with zipfile.ZipFile(out) as archive:
            return json.loads(archive.read(MANIFEST))
    return json.loads((out / MANIFEST).read_text(encoding="utf-8"))


def test_realesrgan_x4_on_the_device_and_native_512_are_recorded(esrgan_cache, tmp_path):
    resolution = make_resolution("auto", esrgan_cache, "cpu", **TILES)
    assert resolution.upscaler is not None and resolution.fallback is None
    net = resolution.upscaler.model
    assert net.device == "cpu" and {p.device.type for p in net.model.parameters()} == {"cpu"}
    small, big = _blob(16), _blob(600, (30, 90, 200, 255), inner=520)  # big: as a 512 px DWT decode gives
    assert max(trim(big).size) >= SIDE
    trimmed = trim(small)
    enlarged, path = resolution.enlarge(trimmed)
    assert path == REALESRGAN and enlarged.size == (4 * trimmed.width, 4 * trimmed.height)
    report = write_sticker_set([("small", small), ("big", big)], tmp_path / "set", "png", resolution)
    manifest = _manifest(tmp_path / "set")
    assert [(s["file"], s["resolution"]) for s in manifest["stickers"]] == [("small.png", REALESRGAN),
                                                                          ("big.png", NATIVE)]
    assert manifest["upscale"] == "auto" and manifest["device"] == "cpu" and manifest["lanczos_fallback"] is None
    assert all(max(s["width"], s["height"]) == SIDE for s in manifest["stickers"])
    assert report.resolutions == {REALESRGAN: 1, NATIVE: 1}
    # It really went through the network: not the pixels Lanczos alone would give.
    lanczos = write_sticker_set([("small", small)], tmp_path / "plain", "png")
    assert _manifest(tmp_path / "plain")["stickers"][0]["resolution"] == LANCZOS
    esrgan_png = (tmp_path / "set" / "small.png").read_bytes()
    assert esrgan_png != (tmp_path / "plain" / "small.png").read_bytes()
    assert lanczos.fallback is None and Image.open(io.BytesIO(esrgan_png)).mode == "RGBA"


def test_without_weights_the_lanczos_fallback_is_labelled(engine, generated_samples, tmp_path):
    cache = tmp_path / "empty-cache"
    with read_session(engine) as session:
        report = export_stickers(session, generated_samples.sample_ids[:3], tmp_path / "s.zip", cache_dir=cache)
    manifest = _manifest(tmp_path / "s.zip")
    assert {s["resolution"] for s in manifest["stickers"]} == {LANCZOS}
    assert manifest["lanczos_fallback"] == f"no Real-ESRGAN weights at {realesrgan_weights(cache)}"
    assert [s["sample_id"] for s in manifest["stickers"]] == generated_samples.sample_ids[:3]
    assert {s["mask"] for s in manifest["stickers"]} == {"contour"} and manifest["stickers"][0]["source_px"] == 64
    assert "Lanczos fallback: no Real-ESRGAN weights at" in report.summary()


def test_asking_for_realesrgan_without_weights_fails_before_any_work(engine, generated_samples, tmp_path):
    with read_session(engine) as session, pytest.raises(MissingWeights, match="x4/RealESRGAN_x4.pth"):
        export_stickers(session, generated_samples.sample_ids, tmp_path / "s.zip", upscale="realesrgan",
                        cache_dir=tmp_path)
    assert not (tmp_path / "s.zip").exists()
    with pytest.raises(EmojichError, match="unknown upscale mode"):
        make_resolution("bicubic")
    assert make_resolution("lanczos", tmp_path).fallback == "--upscale lanczos"
    assert isinstance(make_resolution("auto", None), Resolution)


def test_cli_upscale_options(home, generated_samples, capsys):
    from workbench.cli import main

    out = home / "stickers"
    ckpt = str(generated_samples.checkpoint_id)
    assert main(["stickers", "export", "--checkpoint", ckpt, "--out", str(out), "--upscale", "realesrgan"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(home / "models" / "rudalle" / "x4" / "RealESRGAN_x4.pth") in err
    assert main(["stickers", "export", "--checkpoint", ckpt, "--out", str(out), "--upscale", "huge"]) == 1
    assert "--upscale must be one of auto, realesrgan, lanczos" in capsys.readouterr().err
    assert main(["stickers", "export", "--checkpoint", ckpt, "--out", str(out), "--upscale", "lanczos"]) == 0
    assert "512 px by lanczos 12 (Lanczos fallback: --upscale lanczos)" in capsys.readouterr().out
    assert {s["resolution"] for s in _manifest(out)["stickers"]} == {LANCZOS}
