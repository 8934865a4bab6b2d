"""Every mode Pillow opens gets into `segment predict` (and the dataset import, same opener) with a
sensible mask: CMYK through its ICC profile, 16-bit and float scaled by value, transparency over
white, EXIF orientation applied, the first frame of an animation. Bad files are still refused."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.fixtures_images import cmyk_icc_profile, emoji_picture
from training.dataset.safe_image import load_rgba
from training.segmentation.confidence import mask_iou
from training.segmentation.data import to_rgb_on_white
from training.segmentation.image_input import RejectedImage, open_image
from training.segmentation.predict import predict_folder

SIZE = 64


def _on_white(rgba: Image.Image) -> Image.Image:
    canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    canvas.alpha_composite(rgba)
    return canvas.convert("RGB")


def _grey(rgba: Image.Image) -> np.ndarray:
    return np.asarray(_on_white(rgba).convert("L"))


def _files(folder, picture: Image.Image) -> dict[str, str]:
    """Write the picture in every mode; returns file name → what it tests."""
    rgb = _on_white(picture)
    grey = _grey(picture)
    saved = {}

    def save(name, image, **kw):
        image.save(folder / name, **kw)
        saved[name] = image.mode

    save("bilevel.png", rgb.convert("1"))
    save("grey.png", rgb.convert("L"))
    save("grey_alpha.png", picture.convert("LA"))
    save("palette.png", rgb.quantize(32))
    paletted = rgb.quantize(31)
    index = np.asarray(paletted).copy()
    index[np.asarray(picture)[..., 3] < 128] = 31  # a palette entry of its own for the background
    transparent = Image.fromarray(index, "P")
    colours = paletted.getpalette()[: 31 * 3]
    transparent.putpalette(colours + [0] * (31 * 3 - len(colours)) + [0, 0, 0])  # background: black
    save("palette_transparent.png", transparent, transparency=31)
    save("rgb.png", rgb)
    save("rgba.png", picture)
    save("cmyk.jpg", rgb.convert("CMYK"), quality=95)
    save("cmyk_icc.jpg", rgb.convert("CMYK"), quality=95, icc_profile=cmyk_icc_profile())
    save("sixteen.png", Image.fromarray(grey.astype(np.uint16) * 257))
    save("int32.tif", Image.fromarray(grey.astype(np.int32) * 257))
    save("float.tif", Image.fromarray(grey.astype(np.float32) / 255.0))
    save("ycbcr.jpg", rgb.convert("YCbCr"), quality=95)
    save("lab.tif", rgb.convert("LAB"))
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned 90° clockwise: stored turned the other way
    save("rotated.jpg", rgb.transpose(Image.Transpose.ROTATE_90), quality=95, exif=exif)
    later = Image.new("RGBA", picture.size, (0, 0, 255, 255))
    picture.save(folder / "animated.png", save_all=True, append_images=[later], duration=100)
    rgb.save(folder / "animated.gif", save_all=True, append_images=[later.convert("RGB")], duration=100)
    saved["animated.png"], saved["animated.gif"] = "APNG", "GIF"
    return saved


def test_every_mode_gets_a_sensible_mask(tmp_path):
    picture, truth = emoji_picture(SIZE)
    folder = tmp_path / "in"
    folder.mkdir()
    files = _files(folder, picture)
    opened_modes = {name: Image.open(folder / name).mode for name in files}
    for mode in ("1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F", "LAB"):
        assert mode in opened_modes.values(), (mode, opened_modes)  # what Pillow itself hands over
    report = predict_folder(folder, tmp_path / "out", None, warn=pytest.fail)
    assert not report.rejected and len(report.processed) == len(files)
    for row in report.processed:
        mask = np.asarray(Image.open(tmp_path / "out" / row.mask)) >= 128
        iou = mask_iou(mask, truth)
        assert iou >= 0.95, (row.file, opened_modes[row.file], iou)


def test_conversions_keep_the_pixels(tmp_path):
    picture, _ = emoji_picture(SIZE)
    _files(tmp_path, picture)
    grey = _grey(picture)
    red = (SIZE // 2 + 10, SIZE // 2 + 5)  # a point in the red disc (row, column)
    for name in ("sixteen.png", "int32.tif", "float.tif"):
        rgb = to_rgb_on_white(open_image(tmp_path / name))
        assert abs(int(rgb[red][0]) - int(grey[red])) <= 1, name  # scaled by value, not clipped white
        assert tuple(rgb[0, 0]) == (255, 255, 255)
    plain = to_rgb_on_white(open_image(tmp_path / "cmyk.jpg"))
    assert tuple(plain[red]) == pytest.approx((220, 30, 30), abs=12)
    # through the profile the inks are process colours: the same CMYK numbers come out duller
    managed = to_rgb_on_white(open_image(tmp_path / "cmyk_icc.jpg"))
    cyan = Image.new("CMYK", (8, 8), (255, 0, 0, 0))
    buffer = io.BytesIO()
    cyan.save(buffer, "JPEG", quality=95, icc_profile=cmyk_icc_profile())
    (tmp_path / "cyan.jpg").write_bytes(buffer.getvalue())
    assert tuple(to_rgb_on_white(open_image(tmp_path / "cyan.jpg"))[4, 4]) == pytest.approx((0, 158, 224), abs=8)
    assert np.abs(managed[red].astype(int) - plain[red].astype(int)).max() >= 10
    transparent = to_rgb_on_white(open_image(tmp_path / "palette_transparent.png"))
    assert tuple(transparent[0, 0]) == (255, 255, 255)
    first = to_rgb_on_white(open_image(tmp_path / "animated.png"))
    assert tuple(first[0, 0]) == (255, 255, 255)  # the first frame, not the blue one
    turned = to_rgb_on_white(open_image(tmp_path / "rotated.jpg"))
    upright = np.asarray(_on_white(picture))
    assert np.abs(turned.astype(int) - upright.astype(int)).mean() < 4
    assert load_rgba(tmp_path / "cmyk_icc.jpg").notes == [
        "CMYK converted to RGB with its ICC profile", "no alpha channel: treated as fully opaque"
    ]


def test_a_broken_icc_profile_falls_back_to_the_plain_conversion(tmp_path):
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(tmp_path / "odd.jpg", icc_profile=b"not a profile" * 20)
    rgb = to_rgb_on_white(open_image(tmp_path / "odd.jpg"))
    assert rgb[8, 8, 0] > 240 and rgb[8, 8, 1] < 15
    assert "its ICC profile is unusable" in load_rgba(tmp_path / "odd.jpg").notes[0]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        ("half of a PNG", "truncated or corrupt"),
        (b"plain text, not a picture\n" * 4, "not an image"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>', "SVG"),
    ],
)
def test_bad_files_are_refused_in_one_line(tmp_path, content, reason):
    if content == "half of a PNG":
        buffer = io.BytesIO()
        emoji_picture(SIZE)[0].save(buffer, "PNG")
        content = buffer.getvalue()[: len(buffer.getvalue()) // 2]
    (tmp_path / "bad.png").write_bytes(content)
    with pytest.raises(RejectedImage, match=reason) as caught:
        open_image(tmp_path / "bad.png")
    assert "\n" not in str(caught.value)


def test_bombs_are_refused_before_decoding(tmp_path):
    Image.new("L", (5000, 5000), 255).save(tmp_path / "bomb.png")
    with pytest.raises(RejectedImage, match="too many pixels"):
        open_image(tmp_path / "bomb.png")
