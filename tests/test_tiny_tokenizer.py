"""The tiny path's BPE tokenizer is the same file on every run and machine: YTTM's own trainer broke ties
between equally frequent merges differently from run to run on a busy machine (1 model in 6 at load 4, on
the demo's captions), which gave two homes different tokenizers, so different samples and a different run.
The merges are now learned by `learn_bpe` (ties by text) and YTTM only encodes with them."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import youtokentome as yttm

from training.tiny.tokenizer import SPACE, learn_bpe, load_tokenizer, train_tokenizer, yttm_model_text

REPO = Path(__file__).resolve().parent.parent
TRAIN = """
import sys
from pathlib import Path
from training.dalle.data import read_examples
from training.tiny.tokenizer import train_tokenizer
train_tokenizer(read_examples(Path(sys.argv[1]), 16).captions, Path(sys.argv[2]), 600)
"""


def test_ties_are_broken_by_text_and_counts_follow_the_merges():
    # "▁аб" ×2 and "▁вг" ×2: four pairs of count 2, merged in text order; then the merged pairs
    alphabet, merges = learn_bpe(["аб вг", "вг аб"], vocab_size=4 + 5 + 4)
    assert alphabet == [SPACE, "а", "б", "в", "г"]  # by frequency, then code point (▁ is U+2581)
    assert merges == [("а", "б"), ("в", "г"), (SPACE, "аб"), (SPACE, "вг")]
    alphabet, merges = learn_bpe(["ааа"], vocab_size=100)  # left to right: ▁ аа а, then a tie, by text
    assert merges == [("а", "а"), ("аа", "а"), (SPACE, "ааа")]


def test_yttm_reads_the_file_and_encodes_by_the_merges(tmp_path):
    path = train_tokenizer(["красный круг", "синий круг", "красное сердце"] * 3, tmp_path / "bpe.model", 120)
    bpe = yttm.BPE(model=str(path))
    pieces = bpe.encode(["красный круг"], output_type=yttm.OutputType.SUBWORD)[0]
    assert "".join(pieces) == f"{SPACE}красный{SPACE}круг" and len(pieces) <= 4
    assert bpe.decode(bpe.encode(["синий круг"]))[0] == "синий круг"
    assert bpe.vocab_size() <= 120 and [bpe.id_to_subword(i) for i in range(4)] == ["<PAD>", "<UNK>", "<BOS>", "<EOS>"]
    ids = load_tokenizer(path).encode_text("красный круг", text_seq_length=8)  # rudalle's wrapper: BOS … EOS, pad
    assert ids[0].item() == 2 and 3 in ids.tolist() and ids[-1].item() == 0
    from training.dalle.prompts import model_text
    from training.tiny.tokenizer import EXTRA_LINES

    lines = [model_text(c) for c in ["красный круг", "синий круг", "красное сердце"] * 3] + EXTRA_LINES
    alphabet, merges = learn_bpe(lines, 120)
    assert path.read_text(encoding="utf-8") == yttm_model_text(alphabet, merges)


def test_the_tokenizer_is_the_same_file_in_every_process(tmp_path):
    from training.dataset import build_noto_dataset

    report = build_noto_dataset(tmp_path, name="noto-16", size=16, workers=1)  # the demo's captions
    digests = set()
    for run, hash_seed in enumerate(("1", "2", "random")):  # the process's hash seed must not matter
        path = tmp_path / f"bpe{run}.model"
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-c", TRAIN, str(report.directory), str(path)], check=True, env=env,
                       cwd=REPO, timeout=300)
        digests.add(hashlib.sha256(path.read_bytes()).hexdigest())
    assert len(digests) == 1, f"{len(digests)} different tokenizers from 3 runs"
    assert yttm.BPE(model=str(tmp_path / "bpe0.model")).vocab_size() == 600
