"""Out-of-style emoji sets for the segmentation bench, fetched with `npm pack` into <home>/
(never committed):

- OpenMoji 17.0.0 (npm `openmoji`, CC BY-SA 4.0): flat colours with black outlines and many
  white interiors; an evenly spread subset of its colour SVGs is rendered to RGBA with cairosvg.
  Attribution: "All emojis designed by OpenMoji – the open-source emoji and icon project.
  License: CC BY-SA 4.0"; the tarball's LICENSE.txt is kept next to the rendered images.
- Twemoji 15 (npm `emoji-datasource-twitter` 16.0.0, graphics CC-BY 4.0, © Twitter / jdecked):
  no outlines, so white parts often touch the background; its 64 px PNGs are upscaled to 256 px
  (Lanczos), which also makes them softer than anything in training.
- Fluent Emoji Flat (npm `@iconify-json/fluent-emoji-flat` 1.2.6, MIT, © Microsoft): flat
  colours, no outlines, white parts (clouds, ghosts, paper, eyes) touching the background.
- Firefox OS Emoji (npm `@iconify-json/fxemoji` 1.2.2, Apache-2.0, © Mozilla): flat shapes with
  thin dark shading and white highlights.
The two Iconify sets are JSON files of SVG bodies, rendered with cairosvg like OpenMoji.

Each image is converted the dataset's way: RGB on white by the report's rule, ground truth =
alpha ≥ 128, white share = the share of foreground pixels that are near-white. A case is *hard*
when its foreground is at least 10 % near-white (white interiors) or at least 5 % of its outline
pixels are near-white (white touching the outline: nothing dark separates it from the background).

    .venv/bin/python bench/bench_segment_data.py [--home var/bench-segment] [--n 400]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from training.dataset.alpha import NEAR_WHITE, alpha_mask, rgba_to_rgb, white_share

OPENMOJI_VERSION = "17.0.0"
TWEMOJI_PACKAGE = "emoji-datasource-twitter@16.0.0"
SKIN_TONES = tuple(f"1F3F{c}" for c in "BCDEF")
WHITE_INTERIOR_SHARE = 0.10  # a case is "white interior" when ≥ 10 % of its foreground is near-white
WHITE_OUTLINE_SHARE = 0.05  # "white touching the outline" when ≥ 5 % of the outline pixels are near-white
ICONIFY_SETS = {  # name: (npm spec, licence line kept next to the rendered images)
    "fluent": ("@iconify-json/fluent-emoji-flat@1.2.6", "Fluent Emoji Flat, (c) Microsoft Corporation, MIT licence"),
    "fxemoji": ("@iconify-json/fxemoji@1.2.2", "Firefox OS Emoji, (c) Mozilla, Apache License 2.0"),
}
SKIN_TONE_WORDS = ("-light", "-medium", "-dark", "-tone")


@dataclass(frozen=True)
class Case:
    name: str
    rgb: np.ndarray  # uint8 H×W×3, on white
    truth: np.ndarray  # bool H×W
    white_share: float
    white_outline_share: float = 0.0

    @property
    def white_interior(self) -> bool:
        return self.white_share >= WHITE_INTERIOR_SHARE

    @property
    def hard(self) -> bool:
        return self.white_interior or self.white_outline_share >= WHITE_OUTLINE_SHARE


def npm_pack(folder: Path, spec: str) -> Path:
    """The npm tarball of `spec` (name@version), downloaded once with `npm pack`."""
    folder.mkdir(parents=True, exist_ok=True)
    name, version = spec.rsplit("@", 1)
    tarball = folder / f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
    if not tarball.is_file():
        subprocess.run(["npm", "pack", spec, "--pack-destination", str(folder)], check=True, capture_output=True)
    return tarball


def fetch_openmoji(home: Path) -> Path:
    return npm_pack(home / "openmoji", f"openmoji@{OPENMOJI_VERSION}")


def _wanted(name: str) -> bool:
    stem = name.rsplit("/", 1)[-1].rsplit(".", 1)[0].upper()
    first = stem.split("-")[0]
    private_use = len(first) == 4 and "E000" <= first <= "F8FF"
    return not private_use and not any(t in stem for t in SKIN_TONES)


def _spread(members: list, n: int) -> list:
    return [members[round(i * (len(members) - 1) / max(1, n - 1))] for i in range(min(n, len(members)))]


def render_subset(home: Path, n: int, size: int = 256) -> Path:
    """Render an evenly spread subset of OpenMoji's Unicode colour SVGs (no skin tones, no
    OpenMoji-only extras) to <home>/openmoji/rgba_<size>/NAME.png."""
    import cairosvg

    out = home / "openmoji" / f"rgba_{size}"
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fetch_openmoji(home)) as archive:
        members = sorted(
            (m for m in archive.getmembers() if m.name.startswith("package/color/svg/") and _wanted(m.name)),
            key=lambda m: m.name,
        )
        for member in _spread(members, n):
            target = out / Path(member.name).with_suffix(".png").name
            if target.is_file():
                continue
            svg = archive.extractfile(member).read()
            target.write_bytes(cairosvg.svg2png(bytestring=svg, output_width=size, output_height=size))
        license_file = archive.extractfile("package/LICENSE.txt")
        if license_file is not None:
            (home / "openmoji" / "LICENSE.txt").write_bytes(license_file.read())
    return out


def render_twemoji(home: Path, n: int, size: int = 256) -> Path:
    """Upscale an evenly spread subset of Twemoji's 64 px PNGs to <home>/twemoji/rgba_<size>/."""
    out = home / "twemoji" / f"rgba_{size}"
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(npm_pack(home / "twemoji", TWEMOJI_PACKAGE)) as archive:
        members = sorted(
            (m for m in archive.getmembers() if m.name.startswith("package/img/twitter/64/") and _wanted(m.name)),
            key=lambda m: m.name,
        )
        for member in _spread(members, n):
            target = out / Path(member.name).name
            if target.is_file():
                continue
            with Image.open(archive.extractfile(member)) as small:
                small.convert("RGBA").resize((size, size), Image.LANCZOS).save(target)
    return out


def render_iconify(name: str, home: Path, n: int, size: int = 256) -> Path:
    """Render an evenly spread subset of an Iconify emoji set (no skin-tone variants) to
    <home>/<name>/rgba_<size>/NAME.png."""
    import cairosvg

    spec, licence = ICONIFY_SETS[name]
    out = home / name / f"rgba_{size}"
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(npm_pack(home / name, spec)) as archive:
        data = json.load(archive.extractfile("package/icons.json"))
    width, height = data.get("width", 16), data.get("height", 16)
    names = sorted(k for k in data["icons"] if not any(w in k for w in SKIN_TONE_WORDS))
    for icon in _spread(names, n):
        target = out / f"{icon}.png"
        if target.is_file():
            continue
        entry = data["icons"][icon]
        w, h = entry.get("width", width), entry.get("height", height)
        svg = f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}">{entry["body"]}</svg>'
        target.write_bytes(cairosvg.svg2png(bytestring=svg.encode(), output_width=size, output_height=size))
    (home / name / "LICENSE.txt").write_text(licence + "\n")
    return out


SETS = {
    "openmoji": render_subset,
    "twemoji": render_twemoji,
    **{name: (lambda home, n, name=name: render_iconify(name, home, n)) for name in ICONIFY_SETS},
}


def white_outline_share(rgb: np.ndarray, truth: np.ndarray) -> float:
    """Share of the outline pixels (foreground next to background) that are near-white."""
    outline = truth & ~cv2.erode(truth.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    if not outline.any():
        return 0.0
    near_white = rgb.min(axis=-1) >= NEAR_WHITE
    return float((near_white & outline).sum() / outline.sum())


def load_cases(folder: Path) -> list[Case]:
    cases = []
    for path in sorted(folder.glob("*.png")):
        with Image.open(path) as image:
            rgba = image.convert("RGBA")
        rgb, mask = rgba_to_rgb(rgba), alpha_mask(rgba)
        truth = np.asarray(mask) >= 128
        if not truth.any():
            continue
        rgb_array = np.asarray(rgb)
        cases.append(
            Case(path.stem, rgb_array, truth, white_share(rgb, mask), white_outline_share(rgb_array, truth))
        )
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("var/bench-segment"))
    parser.add_argument("--n", type=int, default=400)
    args = parser.parse_args()
    for name, render in SETS.items():
        cases = load_cases(render(args.home, args.n))
        white = sum(c.white_interior for c in cases)
        hard = sum(c.hard for c in cases)
        print(f"{name}: {len(cases)} cases, {white} white-interior (white share ≥ {WHITE_INTERIOR_SHARE}), {hard} hard")


if __name__ == "__main__":
    main()
