"""A YTTM BPE tokenizer trained on the dataset captions (the tiny path), wrapped like rudalle's."""
from __future__ import annotations

import contextlib
import os
import string
import sys
import tempfile
from pathlib import Path

from training.dalle.prompts import model_text
from training.rudalle_import import quiet_rudalle

# Latin letters, digits and the whole Russian alphabet (ё included, which CLDR names almost never use) join
# the training text, so prompts with them get real tokens, not only UNK.
EXTRA_LINES = [string.ascii_lowercase, string.digits, "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"]


@contextlib.contextmanager
def _c_output_to(path: Path):
    """YTTM's C++ trainer prints its parameters and progress straight to file descriptors 1 and 2: send them
    to a file so the caller's terminal keeps its one progress line per stage."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    try:
        with open(path, "wb") as sink:
            for fd in saved:
                os.dup2(sink.fileno(), fd)
            try:
                yield
            finally:
                _flush_c_stdio()  # the C++ streams are synced with C stdio: flush while the fds are the file
    finally:
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)


def _flush_c_stdio() -> None:
    import ctypes

    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass


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
        with _c_output_to(Path(tmp) / "yttm.log"):
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
