"""Training data from a dataset folder: `metadata.jsonl` rows of the train split + their `rgb/` images.

No augmentation (the recipe): every image is encoded once by the frozen VAE (argmax codes), so an
epoch is a permutation of fixed (text ids, image codes) pairs. The permutation of epoch e comes from
`seed + e` alone, so a resumed run sees the same order.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from db.errors import EmojichError
from training.dalle.prompts import encode_text, model_text
from training.dataset.layout import read_metadata


class DatasetMissing(EmojichError):
    pass


@dataclass
class Examples:
    captions: list[str]
    pixels: torch.Tensor  # [N, 3, S, S] uint8 (2749 images at 256 px stay ~0.5 GB)

    @property
    def images(self) -> torch.Tensor:
        """[N, 3, S, S] float in [0, 1]."""
        return self.pixels.float() / 255


def read_examples(folder: Path, image_size: int, split: str = "train") -> Examples:
    """The split's captions and RGB pixels; a missing or malformed metadata.jsonl is one clear error."""
    rows = [r for r in read_metadata(folder) if r.split == split]
    if not rows:
        raise DatasetMissing(f"dataset {folder} has no {split} rows")
    captions, arrays = [], []
    for row in rows:
        with Image.open(Path(folder) / "rgb" / row.file) as im:
            im = im.convert("RGB")
            if im.size != (image_size, image_size):
                im = im.resize((image_size, image_size), Image.Resampling.LANCZOS)
            arrays.append(np.asarray(im, dtype=np.uint8))
        captions.append(model_text(row.caption))  # what the model sees: rudalle's preprocessing
    return Examples(captions, torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous())


@dataclass
class TokenizedData:
    text_ids: torch.Tensor  # [N, T]
    image_codes: torch.Tensor  # [N, I]


@torch.no_grad()
def tokenize(bundle, examples: Examples, batch_size: int = 32) -> TokenizedData:
    t = bundle.text_seq_length
    text_ids = torch.stack([encode_text(bundle.tokenizer, c, t) for c in examples.captions])
    codes = []
    for start in range(0, len(examples.pixels), batch_size):
        batch = examples.pixels[start:start + batch_size].to(bundle.device).float() / 255
        codes.append(bundle.vae.get_codebook_indices(batch, disable_gumbel_softmax=True).cpu())
    return TokenizedData(text_ids, torch.cat(codes))


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


def steps_per_epoch(n: int, batch_size: int) -> int:
    return max(1, -(-n // batch_size))


def batch_indices(n: int, batch_size: int, seed: int, step: int) -> tuple[int, torch.Tensor]:
    """(epoch, example indices) of optimizer step `step` (0-based): a pure function of the step."""
    per_epoch = steps_per_epoch(n, batch_size)
    epoch, within = divmod(step, per_epoch)
    order = epoch_order(n, seed, epoch)
    return epoch, order[within * batch_size:(within + 1) * batch_size]
