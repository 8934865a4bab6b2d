"""The tiny path's BPE tokenizer: learned from the dataset captions, saved in YouTokenToMe's model format and
loaded with YTTM inside rudalle's own wrapper, exactly as a ruDALL-E tokenizer is.

Why the merges are not learned by `yttm.BPE.train`: YTTM's trainer picks the next merge while its worker
thread is still applying the previous one, so on a busy machine it breaks ties between equally frequent
pairs differently from run to run (measured on the demo's captions at load 4: 1 model in 6 differed, and
3 in 4 while the test suite ran). Two homes then had different tokenizers, hence different samples and a
different run, against "the same demo everywhere". `learn_bpe` below is the same algorithm (YTTM's words:
whitespace-separated, each starting with "▁"; at every step the most frequent adjacent pair is merged)
with every tie broken by the pair's text, single-threaded, so the file depends only on the captions.
YTTM then encodes with it as with its own: merges applied by rule order, leftmost first.
"""
from __future__ import annotations

import string
from collections import Counter, defaultdict
from pathlib import Path

from training.dalle.prompts import model_text
from training.rudalle_import import quiet_rudalle

# Latin letters, digits and the whole Russian alphabet (ё included, which CLDR names almost never use) join
# the training text, so prompts with them get real tokens, not only UNK.
EXTRA_LINES = [string.ascii_lowercase, string.digits, "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"]
SPACE = "\u2581"  # YTTM's word start ("▁")
PAD, UNK, BOS, EOS = 0, 1, 2, 3  # YTTM's default special ids (rudalle's wrapper expects them)
N_SPECIAL = 4


def learn_bpe(lines: list[str], vocab_size: int) -> tuple[list[str], list[tuple[str, str]]]:
    """(alphabet, merges in order): characters by frequency (ties by code point), then merges of the most
    frequent adjacent pair until `vocab_size` ids (the 4 special ones included) are used or no pair is left."""
    words = Counter(word for line in lines for word in line.split())
    chars: Counter[str] = Counter({SPACE: sum(words.values())})
    for word, n in words.items():
        for ch in word:
            chars[ch] += n
    alphabet = sorted(chars, key=lambda ch: (-chars[ch], ord(ch)))
    if N_SPECIAL + len(alphabet) > vocab_size:
        raise ValueError(f"vocab_size {vocab_size} is too small for {len(alphabet)} characters and "
                         f"{N_SPECIAL} special tokens")
    symbols = [[SPACE, *word] for word in words]
    counts = list(words.values())
    pair_count: Counter[tuple[str, str]] = Counter()
    where: defaultdict[tuple[str, str], set[int]] = defaultdict(set)
    for i, word in enumerate(symbols):
        for pair in zip(word, word[1:], strict=False):
            pair_count[pair] += counts[i]
            where[pair].add(i)
    merges: list[tuple[str, str]] = []
    known = set(alphabet)
    used = N_SPECIAL + len(alphabet)
    while used < vocab_size:
        live = [(n, pair) for pair, n in pair_count.items() if n > 0]
        if not live:
            break
        top = max(n for n, _ in live)
        pair = min(p for n, p in live if n == top)  # ties: by the pair's text, never by chance
        merges.append(pair)
        merged = pair[0] + pair[1]
        if merged not in known:
            known.add(merged)
            used += 1
        for i in sorted(where.pop(pair)):
            word, n = symbols[i], counts[i]
            for old in zip(word, word[1:], strict=False):
                pair_count[old] -= n
            out, j = [], 0
            while j < len(word):
                if j + 1 < len(word) and (word[j], word[j + 1]) == pair:
                    out.append(merged)
                    j += 2
                else:
                    out.append(word[j])
                    j += 1
            symbols[i] = out
            for new in zip(out, out[1:], strict=False):
                pair_count[new] += n
                where[new].add(i)
        pair_count.pop(pair, None)
    return alphabet, merges


def yttm_model_text(alphabet: list[str], merges: list[tuple[str, str]]) -> str:
    """YTTM's model file: "n_chars n_rules", "code_point id" per character, "x y z" per rule, then the
    special ids as YTTM writes them (unk pad bos eos)."""
    ids = {ch: N_SPECIAL + i for i, ch in enumerate(alphabet)}
    rules = []
    for left, right in merges:
        merged = left + right
        if merged not in ids:
            ids[merged] = N_SPECIAL + len(ids)
        rules.append(f"{ids[left]} {ids[right]} {ids[merged]}")
    lines = [f"{len(alphabet)} {len(rules)}", *(f"{ord(ch)} {ids[ch]}" for ch in alphabet), *rules,
             f"{UNK} {PAD} {BOS} {EOS}"]
    return "\n".join(lines) + "\n"


def train_tokenizer(captions: list[str], path: Path, vocab_size: int) -> Path:
    """Learn the BPE on `captions` (as the model sees them) and save `path` atomically in YTTM's format;
    like YTTM it may stop below `vocab_size` on a small corpus."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    alphabet, merges = learn_bpe([model_text(c) for c in captions] + EXTRA_LINES, vocab_size)
    tmp_path = path.with_suffix(".tmp")
    tmp_path.write_text(yttm_model_text(alphabet, merges), encoding="utf-8")
    tmp_path.replace(path)
    return path


def load_tokenizer(path: Path):
    quiet_rudalle()
    import youtokentome as yttm
    from rudalle.tokenizer import YTTMTokenizerWrapper

    return YTTMTokenizerWrapper(yttm.BPE(model=str(path)))
