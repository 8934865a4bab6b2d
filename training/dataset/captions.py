"""Russian captions as stored in a dataset, the key that compares them, and the CLDR Russian short names
(`tts`) for every emoji the annotation files list.

A stored caption is lowercase with single spaces and keeps "ё": Malevich's BPE was trained on text with
"ё", and what the model sees is rudalle's own preprocessing of it (`training.dalle.prompts.model_text`).
Only comparisons (the split's grouping, unique-caption counts) fold "ё" into "е" (`caption_key`).

The two CLDR 48.2.0 files ship in `cldr/` (npm packages `cldr-annotations-full` and
`cldr-annotations-derived-full`, Unicode License V3, see `cldr/LICENSE.txt`). Their keys carry no
U+FE0F. Skin-tone variants share the caption of their base emoji, as in the report's dataset.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

CLDR_DIR = Path(__file__).with_name("cldr")
CLDR_FILES = {
    "annotations": CLDR_DIR / "annotations-ru.json",
    "annotationsDerived": CLDR_DIR / "annotations-derived-ru.json",
}
CLDR_VERSION = "48.2.0"

SKIN_TONES = frozenset(range(0x1F3FB, 0x1F400))
HAIR_COMPONENTS = frozenset(range(0x1F9B0, 0x1F9B4))
VARIATION_SELECTOR_16 = 0xFE0F

_SPACES = re.compile(r"\s+")
# CLDR separates parts of a name with ": ", ", " and " - " ("флаг: Япония"); a caption is plain words.
_CLDR_SEPARATORS = re.compile(r"\s*[:,]\s*|\s+[-–—]\s+")


def normalize_caption(text: str) -> str:
    """A caption as a dataset stores it: lowercase, single spaces, "ё" kept."""
    return _SPACES.sub(" ", text.lower()).strip()


def caption_key(text: str) -> str:
    """What two captions are compared by (de-duplication, grouping): `normalize_caption`, then "ё" → "е".
    Never tokenized."""
    return normalize_caption(text).replace("ё", "е")


def clean_cldr_name(name: str) -> str:
    """A CLDR short name as a caption: separators become spaces, then `normalize_caption`."""
    return normalize_caption(_CLDR_SEPARATORS.sub(" ", name))


def strip_skin_tones(emoji: str) -> str:
    return "".join(ch for ch in emoji if ord(ch) not in SKIN_TONES)


def is_component_only(emoji: str) -> bool:
    """Skin-tone swatches and hair components alone are parts of emoji, not emoji."""
    return all(ord(ch) in SKIN_TONES | HAIR_COMPONENTS | {VARIATION_SELECTOR_16} for ch in emoji)


def codepoints_of(emoji: str) -> str:
    """ "U+1F44D U+1F3FB" for 👍🏻."""
    return " ".join(f"U+{ord(ch):04X}" for ch in emoji)


@cache
def cldr_short_names() -> dict[str, str]:
    """Emoji (without U+FE0F) → raw CLDR Russian short name, both files merged, in file order."""
    names: dict[str, str] = {}
    for section, path in CLDR_FILES.items():
        data = json.loads(path.read_text(encoding="utf-8"))
        for key, entry in data[section]["annotations"].items():
            tts = entry.get("tts")
            if tts:
                names[key.replace("\ufe0f", "")] = tts[0]
    return names


@cache
def cldr_captions() -> dict[str, str]:
    """Emoji → caption for every non-component emoji in the CLDR files.

    A skin-tone variant takes the caption of its base (the emoji with the tones removed); where
    the base is not listed, the variant's own name up to the ":" before the tone description.
    """
    names = cldr_short_names()
    captions: dict[str, str] = {}
    for emoji, name in names.items():
        if is_component_only(emoji):
            continue
        base = strip_skin_tones(emoji)
        if base != emoji:
            name = names.get(base) or name.split(":")[0]
        captions[emoji] = clean_cldr_name(name)
    return captions
