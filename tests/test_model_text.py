"""Text reaches the model exactly as rudalle's own pipeline would encode it: `generate_images` lowercases and
strips, then calls `tokenizer.encode_text`; it keeps "ё" (Malevich's BPE was trained with it). Only the
dataset's caption comparisons fold "ё" into "е"."""
from __future__ import annotations

import pytest
import torch

from training.config import ModelConfig
from training.dalle.prompts import check_prompt, encode_prompt, encode_text
from training.dataset.captions import caption_key, normalize_caption
from training.dataset.split import assign_splits
from training.tiny.model import build_tiny_model

TEXTS = [
    "Ёжик в тумане",
    "ЖЁЛТАЯ звезда!",
    "  флаг: Япония  ",
    "Кот и cat, 100%",
    "ёлка — ель? ЁЖ.",
    "зелёный  квадрат",  # two spaces: rudalle keeps them
]


class _Stop(Exception):
    pass


class _Recording:
    """The real tokenizer, recording what rudalle's pipeline asks it to encode (then stopping the pipeline)."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.seen: list[tuple[str, torch.Tensor]] = []

    def encode_text(self, text, text_seq_length, bpe_dropout=0.0):
        ids = self.tokenizer.encode_text(text, text_seq_length=text_seq_length, bpe_dropout=bpe_dropout)
        self.seen.append((text, ids))
        raise _Stop  # everything after this point is sampling, not text handling


def _rudalle_pipeline_ids(tokenizer, model, text: str) -> tuple[str, torch.Tensor]:
    from rudalle.pipelines import generate_images

    recording = _Recording(tokenizer)
    with pytest.raises(_Stop):
        generate_images(text, recording, model, None, top_k=1, top_p=1.0, images_num=1)
    (seen,) = recording.seen
    return seen


@pytest.fixture(scope="module")
def tiny_bpe(tiny_models_dir):
    from training.tiny.tokenizer import load_tokenizer

    return load_tokenizer(tiny_models_dir / "bpe.model")


@pytest.fixture(scope="module")
def tiny_dalle():
    mc = ModelConfig(source="tiny", hf_version="v2", num_layers=1, hidden_size=32, num_attention_heads=2,
                     text_seq_length=24, image_tokens_per_dim=2, image_vocab_size=16, dropout=0.0)
    return build_tiny_model(mc, 200, seed=0).eval()


@pytest.mark.parametrize("text", TEXTS)
def test_prompts_and_captions_are_the_token_ids_of_rudalles_pipeline(tiny_bpe, tiny_dalle, text):
    seen_text, seen_ids = _rudalle_pipeline_ids(tiny_bpe, tiny_dalle, text)
    length = tiny_dalle.text_seq_length
    assert check_prompt(text) == seen_text
    assert torch.equal(encode_prompt(tiny_bpe, text, length, warn=False), seen_ids)  # prompts
    assert torch.equal(encode_text(tiny_bpe, text, length), seen_ids)  # training captions


def test_yo_is_its_own_token_not_e(tiny_bpe):
    """The tiny BPE knows "ё" (as Malevich's does): folding it would change the ids the model sees."""
    yo, ye = encode_text(tiny_bpe, "ёж", 12), encode_text(tiny_bpe, "еж", 12)
    assert not torch.equal(yo, ye)
    assert tiny_bpe.unk_id not in yo.tolist()


def test_training_captions_keep_yo_from_the_csv_to_the_model(tmp_path):
    """A caption imported from a folder keeps "ё" in metadata and in what the training data feeds the model."""
    from PIL import Image

    from training.dalle.data import read_examples
    from training.dataset.folder import import_folder

    folder = tmp_path / "mine"
    folder.mkdir()
    for i in range(4):
        Image.new("RGBA", (16, 16), (40 * i, 200, 0, 255)).save(folder / f"{i}.png")
    (folder / "captions.csv").write_text(
        "file,caption\n0.png,Зелёная  ЁЛКА\n1.png,зеленая елка\n2.png,Жёлтый Круг!\n3.png,кот\n", encoding="utf-8")
    report = import_folder(tmp_path / "home", folder, name="mine", size=16, val_size=0)
    captions = read_examples(report.directory, 16).captions
    assert sorted(captions) == sorted(["зелёная ёлка", "зеленая елка", "жёлтый круг!", "кот"])


def test_dedup_and_grouping_fold_yo_but_storage_does_not():
    assert normalize_caption("  Зелёная   ЁЛКА ") == "зелёная ёлка"
    assert caption_key("Зелёная ЁЛКА") == caption_key("зеленая  елка") == "зеленая елка"
    captions = ["зелёная ёлка", "зеленая елка", "кот", "пёс", "дом", "лес", "мяч", "сыр", "нос", "ухо"]
    splits = assign_splits(captions, val_size=2, seed=0)
    assert splits[0] == splits[1]  # one caption, two spellings: never on both sides of the split
