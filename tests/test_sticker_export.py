"""Telegram static sticker rules: RGBA, trimmed with a margin, one side exactly 512 px and the
other at most 512, each file at most 512 KB; contact sheet on a checkerboard; folder or zip."""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from db.engine import read_session, write_session
from db.errors import EmojichError
from training.stickers.contact_sheet import DARK, LIGHT, contact_sheet
from training.stickers.export import CONTACT_SHEET, MANIFEST, export_stickers, write_sticker_set
from training.stickers.sticker import MAX_BYTES, SIDE, EmptySticker, encode, make_sticker, trim

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _blob(size=(256, 256), box=(40, 60, 200, 120), colour=(200, 50, 50, 255)) -> Image.Image:
    image = Image.new("RGBA", size, (255, 255, 255, 0))
    image.paste(Image.new("RGBA", (box[2] - box[0], box[3] - box[1]), colour), box[:2])
    return image


def _check_sticker_bytes(data: bytes) -> Image.Image:
    assert len(data) <= MAX_BYTES
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert max(image.size) == SIDE and min(image.size) <= SIDE
        rgba = image.convert("RGBA")
    alpha = np.asarray(rgba.getchannel("A"))
    assert alpha.min() == 0 and alpha.max() == 255  # real transparency around opaque content
    return rgba


@pytest.mark.parametrize(
    "size,box",
    [((256, 256), (40, 60, 200, 120)), ((256, 256), (100, 10, 140, 250)), ((32, 32), (10, 10, 22, 22)),
     ((1000, 600), (0, 0, 1000, 600))],
)
def test_one_side_is_512_and_content_is_trimmed_with_a_margin(size, box):
    sticker = make_sticker(_blob(size, box))
    width, height = sticker.size
    assert max(width, height) == SIDE and 1 <= min(width, height) <= SIDE
    alpha = np.asarray(sticker.getchannel("A"))
    rows, cols = np.nonzero(alpha > 0)
    margin = min(rows.min(), cols.min(), height - 1 - rows.max(), width - 1 - cols.max())
    assert 5 <= margin <= 40  # a small transparent margin, on the tight side


def test_empty_mask_is_refused():
    with pytest.raises(EmptySticker):
        trim(Image.new("RGBA", (64, 64), (255, 255, 255, 0)))


def test_a_noisy_sticker_is_brought_under_512_kb_in_both_formats():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, size=(512, 512, 4), dtype=np.uint8)
    noise[..., 3] = 255
    noise[:40, :, 3] = 0
    sticker = Image.fromarray(noise, "RGBA")
    png = encode(sticker, "png")
    assert png.note.startswith("quantised")  # plain PNG of noise is ~1 MB
    _check_sticker_bytes(png.data)
    webp = encode(sticker, "webp")
    _check_sticker_bytes(webp.data)
    with pytest.raises(EmojichError, match="unknown sticker format"):
        encode(sticker, "gif")


def test_contact_sheet_shows_a_checkerboard():
    sheet = contact_sheet([make_sticker(_blob()) for _ in range(5)], cell=64)
    pixels = {tuple(p) for p in np.asarray(sheet).reshape(-1, 4)}
    assert LIGHT in pixels and DARK in pixels and (200, 50, 50, 255) in pixels


def test_write_to_folder_and_zip(tmp_path):
    items = [("a", _blob()), ("b", _blob(box=(100, 10, 140, 250)))]
    folder = write_sticker_set(items, tmp_path / "set", "png")
    assert sorted(p.name for p in (tmp_path / "set").iterdir()) == ["a.png", "b.png", CONTACT_SHEET, MANIFEST]
    assert all(f.size_bytes <= MAX_BYTES and max(f.width, f.height) == SIDE for f in folder.files)
    write_sticker_set(items, tmp_path / "set.zip", "webp")
    with zipfile.ZipFile(tmp_path / "set.zip") as archive:
        assert sorted(archive.namelist()) == ["a.webp", "b.webp", CONTACT_SHEET, MANIFEST]
        for name in ("a.webp", "b.webp"):
            _check_sticker_bytes(archive.read(name))


def test_export_from_samples_uses_a_persons_mask_and_skips_rejected(engine, generated_samples, seg_rater, tmp_path):
    from db.masks import accept_manual_mask, reject_sample_mask

    first, second, third, *rest = generated_samples.sample_ids
    with write_session(engine) as session:
        square = Image.new("L", (64, 64), 0)
        square.paste(255, (8, 8, 40, 56))
        accept_manual_mask(session, first, square, seg_rater)
        reject_sample_mask(session, second, seg_rater)
    with read_session(engine) as session:
        report = export_stickers(session, [first, second, third], tmp_path / "s.zip", "png")
    assert report.skipped == [f"sample {second} was rejected in mask review; skipped"]
    assert report.methods == {"manual": 1, "unet": 0, "contour": 1}  # no U-Net round yet: contour
    with zipfile.ZipFile(tmp_path / "s.zip") as archive:
        assert sorted(archive.namelist()) == sorted([f"sample_{first}.png", f"sample_{third}.png", CONTACT_SHEET,
                                                     MANIFEST])
        manual = _check_sticker_bytes(archive.read(f"sample_{first}.png"))
    # the person's 32×48 rectangle, trimmed and scaled: portrait, 512 px tall
    assert manual.size[1] == SIDE and manual.size[0] < SIDE


def test_cli_export(home, generated_samples, capsys):
    from workbench.cli import main

    out = home / "stickers.zip"
    assert main(["stickers", "export", "--checkpoint", str(generated_samples.checkpoint_id), "--out", str(out)]) == 0
    assert "stickers, contact_sheet.png and manifest.json written" in capsys.readouterr().out
    with zipfile.ZipFile(out) as archive:
        assert len(archive.namelist()) == len(generated_samples.sample_ids) + 2
    assert main(["stickers", "export", "--samples", "1,x", "--out", str(out)]) == 1
    assert "--samples takes sample ids" in capsys.readouterr().err
    assert main(["stickers", "export", "--out", str(out)]) == 1
    assert "exactly one of --checkpoint" in capsys.readouterr().err
    assert main(["stickers", "export", "--samples", "99999", "--out", str(out)]) == 1
    assert "sample 99999 not found" in capsys.readouterr().err
    existing = home / "notes"
    existing.write_text("x")
    assert main(["stickers", "export", "--checkpoint", str(generated_samples.checkpoint_id), "--out", str(existing)]) == 1
    assert "is a file; give a folder or a name ending in .zip" in capsys.readouterr().err


def test_preview_and_export_use_the_same_effective_mask(engine, generated_samples, seg_rater, tmp_path):
    """One rule: a person's mask wins, else the accepted U-Net mask (newest); the Stickers page previews it
    and the export uses exactly it (the export used to re-segment instead of using the accepted mask)."""
    from db.masks import accept_manual_mask, add_mask, effective_masks
    from db.models import Checkpoint
    from db.stickers import list_sticker_candidates

    first, second, *rest = generated_samples.sample_ids
    unet_mask = Image.new("L", (64, 64), 0)
    unet_mask.paste(255, (4, 20, 60, 44))  # a wide band: landscape sticker
    later = Image.new("L", (64, 64), 0)
    later.paste(255, (20, 4, 44, 60))  # a tall band: portrait sticker
    person = Image.new("L", (64, 64), 0)
    person.paste(255, (10, 10, 30, 30))
    with write_session(engine) as session:
        add_mask(session, unet_mask, source="unet", status="accepted", sample_id=first, round=1)
        add_mask(session, later, source="unet", status="accepted", sample_id=first, round=2)
        add_mask(session, unet_mask, source="unet", status="accepted", sample_id=second, round=1)
        accept_manual_mask(session, second, person, seg_rater)
        add_mask(session, later, source="unet", status="accepted", sample_id=second, round=3)  # after the person
    with read_session(engine) as session:
        winners = effective_masks(session, [first, second])
        run_id = session.get(Checkpoint, generated_samples.checkpoint_id).run_id
        preview = {c.sample_id: c for c in list_sticker_candidates(session, run_id)}
        report = export_stickers(session, [first, second], tmp_path / "s.zip", "png", model=None)
    assert winners[first].source == "unet" and winners[second].source == "manual"
    assert preview[first].mask_sha256 == winners[first].image_sha256 and preview[first].mask_source == "unet"
    assert preview[second].mask_sha256 == winners[second].image_sha256 and preview[second].mask_source == "manual"
    assert report.methods == {"manual": 1, "unet": 1, "contour": 0}
    with zipfile.ZipFile(tmp_path / "s.zip") as archive:
        unet_sticker = _check_sticker_bytes(archive.read(f"sample_{first}.png"))
        manual_sticker = _check_sticker_bytes(archive.read(f"sample_{second}.png"))
    assert unet_sticker.size[1] == SIDE and unet_sticker.size[0] < SIDE  # round 2's tall band, not round 1's
    assert manual_sticker.size == (SIDE, SIDE)  # the person's square, not the later U-Net band
