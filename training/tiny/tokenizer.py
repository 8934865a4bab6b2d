"""A YTTM BPE tokenizer trained on the dataset captions (the tiny path), wrapped like rudalle's."""
from __future__ import annotations

import string
import tempfile
from pathlib import Path

from training.dalle.prompts import model_text
from training.rudalle_import import quiet_rudalle

# Latin letters, digits and the whole Russian alphabet (ё included, which CLDR names almost never use) join
# the training text, so prompts with them get real tokens, not only UNK.
EXTRA_LINES = [string.ascii_lowercase, string.digits, "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"]


def train_tokenizer(captions: list[str], path: Path, vocab_size: int) -> Path:
    """Train and save `path` (atomically); YTTM may stop below `vocab_size` on a small corpus."""
    import youtokentome as yttm

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [model_text(c) for c in captions] + EXTRA_LINES
    with tempfile.TemporaryDirectory() as tmp:
        text = Path(tmp) / "captions.txt"
        text.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tmp_model = Path(tmp) / "bpe.model"
        yttm.BPE.train(data=str(text), model=str(tmp_model), vocab_size=vocab_size, n_threads=1)
        tmp_path = path.with_suffix(".tmp")
        tmp_path.write_bytes(tmp_model.read_bytes())
        tmp_path.replace(path)
    return path


def load_tokenizer(path: Path):
    quiet_rudalle()
    import youtokentome as yttm
    from rudalle.tokenizer import YTTMTokenizerWrapper

    return YTTMTokenizerWrapper(yttm.BPE(model=str(path)))
