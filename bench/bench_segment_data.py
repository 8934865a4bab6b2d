"""An out-of-style emoji set for the segmentation bench: OpenMoji (CC BY-SA 4.0, npm `openmoji`).

OpenMoji is flat colours with black outlines and many white interiors, unlike the Noto glyphs
the U-Net trains on. The bench fetches the npm tarball with `npm pack` into
<home>/openmoji/ (never committed), renders an evenly spread subset of its colour SVGs to RGBA
with cairosvg, and converts each the dataset's way: RGB on white by the report's rule, ground
truth = alpha ≥ 128, white share = the share of foreground pixels that are near-white.

    .venv/bin/python bench/bench_segment_data.py [--home var/bench-segment] [--n 400]

Attribution: "All emojis designed by OpenMoji – the open-source emoji and icon project.
License: CC BY-SA 4.0"; the tarball's LICENSE.txt is kept next to the rendered images.
"""
from __future__ import annotations

import argparse
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from training.dataset.alpha import alpha_mask, rgba_to_rgb, white_share

OPENMOJI_VERSION = "17.0.0"
SKIN_TONES = tuple(f"1F3F{c}" for c in "BCDEF")
WHITE_INTERIOR_SHARE = 0.10  # a case is "white interior" when ≥ 10 % of its foreground is near-white


@dataclass(frozen=True)
class Case:
    name: str
    rgb: np.ndarray  # uint8 H×W×3, on white
    truth: np.ndarray  # bool H×W
    white_share: float

    @property
    def white_interior(self) -> bool:
        return self.white_share >= WHITE_INTERIOR_SHARE


def fetch_openmoji(home: Path) -> Path:
    """The npm tarball of openmoji, downloaded once with `npm pack`."""
    folder = home / "openmoji"
    folder.mkdir(parents=True, exist_ok=True)
    tarball = folder / f"openmoji-{OPENMOJI_VERSION}.tgz"
    if not tarball.is_file():
        subprocess.run(
            ["npm", "pack", f"openmoji@{OPENMOJI_VERSION}", "--pack-destination", str(folder)],
            check=True, capture_output=True,
        )
    return tarball


def _wanted(name: str) -> bool:
    stem = name.rsplit("/", 1)[-1].removesuffix(".svg")
    first = stem.split("-")[0]
    private_use = len(first) == 4 and "E000" <= first <= "F8FF"
    return not private_use and not any(t in stem for t in SKIN_TONES)


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
        picks = [members[round(i * (len(members) - 1) / max(1, n - 1))] for i in range(min(n, len(members)))]
        for member in picks:
            target = out / Path(member.name).with_suffix(".png").name
            if target.is_file():
                continue
            svg = archive.extractfile(member).read()
            target.write_bytes(cairosvg.svg2png(bytestring=svg, output_width=size, output_height=size))
        license_file = archive.extractfile("package/LICENSE.txt")
        if license_file is not None:
            (home / "openmoji" / "LICENSE.txt").write_bytes(license_file.read())
    return out


def load_cases(folder: Path) -> list[Case]:
    cases = []
    for path in sorted(folder.glob("*.png")):
        with Image.open(path) as image:
            rgba = image.convert("RGBA")
        rgb, mask = rgba_to_rgb(rgba), alpha_mask(rgba)
        truth = np.asarray(mask) >= 128
        if not truth.any():
            continue
        cases.append(Case(path.stem, np.asarray(rgb), truth, white_share(rgb, mask)))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("var/bench-segment"))
    parser.add_argument("--n", type=int, default=400)
    args = parser.parse_args()
    cases = load_cases(render_subset(args.home, args.n))
    white = sum(c.white_interior for c in cases)
    print(f"openmoji {OPENMOJI_VERSION}: {len(cases)} cases, {white} white-interior (white share ≥ {WHITE_INTERIOR_SHARE})")


if __name__ == "__main__":
    main()
