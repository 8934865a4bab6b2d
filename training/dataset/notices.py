"""Licence notices written next to every dataset: NOTICE plus the licence texts in LICENSES/."""

from __future__ import annotations

import shutil
from pathlib import Path

from training.dataset.captions import CLDR_DIR, CLDR_VERSION

DEBIAN_APACHE = Path("/usr/share/common-licenses/Apache-2.0")
DEBIAN_NOTO_COPYRIGHT = Path("/usr/share/doc/fonts-noto-color-emoji/copyright")

NOTO_NOTICE = f"""This dataset was built by `emojich dataset build` (Emojich Workbench).

Images: rendered from the Noto Color Emoji font (Debian package fonts-noto-color-emoji),
  Copyright 2013-2017 Google Inc. The emoji images are licensed under the Apache License 2.0;
  the font under the SIL Open Font License 1.1. https://github.com/googlefonts/noto-emoji
  Changes: rendered at the font's bitmap size, padded to a square, resized, converted to RGB
  (alpha < 128 painted white) and to a binary alpha mask.
Captions: Russian short names (tts) from Unicode CLDR {CLDR_VERSION} annotations
  (npm cldr-annotations-full, cldr-annotations-derived-full), Copyright © Unicode, Inc.,
  Unicode License V3 (LICENSES/Unicode-3.0.txt). Changes: lowercased, "ё" → "е",
  separators removed; skin-tone variants take their base emoji's name.
"""

FOLDER_NOTICE = """This dataset was imported by `emojich dataset build --source folder` from {source}.
The images and captions keep the licence of that source ({license}); see its own notices.
Changes: normalised to RGBA, padded to a square, resized, converted to RGB (alpha < 128
painted white) and to a binary alpha mask; captions lowercased with "ё" → "е".
"""


def write_noto_notices(directory: Path) -> None:
    licenses = directory / "LICENSES"
    licenses.mkdir(parents=True, exist_ok=True)
    (directory / "NOTICE").write_text(NOTO_NOTICE, encoding="utf-8")
    shutil.copyfile(CLDR_DIR / "LICENSE.txt", licenses / "Unicode-3.0.txt")
    if DEBIAN_APACHE.is_file():
        shutil.copyfile(DEBIAN_APACHE, licenses / "Apache-2.0.txt")
    else:
        (licenses / "Apache-2.0.txt").write_text("https://www.apache.org/licenses/LICENSE-2.0\n")
    if DEBIAN_NOTO_COPYRIGHT.is_file():  # includes the full OFL 1.1 text
        shutil.copyfile(DEBIAN_NOTO_COPYRIGHT, licenses / "noto-emoji-copyright-OFL-1.1.txt")
    else:
        (licenses / "noto-emoji-copyright-OFL-1.1.txt").write_text("https://openfontlicense.org\n")


def write_folder_notice(directory: Path, source: str, license: str) -> None:
    (directory / "NOTICE").write_text(FOLDER_NOTICE.format(source=source, license=license), encoding="utf-8")
