"""Generation from a checkpoint (id or file) to a folder: what `emojich generate` runs."""
from __future__ import annotations

from pathlib import Path

from db.errors import EmojichError
from db.ids import parse_id
from training.dalle.sampler import SamplingParams, decode_images, sample_codes

DWT_SIZE = 512


def resolve_checkpoint(engine, key: str, home: Path | None = None) -> Path:
    """A checkpoint file given by path, or by id (its stored path is relative to the home)."""
    from db.home import Home

    path = Path(key).expanduser()
    if path.is_file():
        return path
    checkpoint_id = parse_id(key)
    if checkpoint_id is None:
        raise EmojichError(f"checkpoint {key!r} is neither a file nor a checkpoint id")
    if engine is None:
        raise EmojichError("a checkpoint id needs the database")
    from db.engine import read_session
    from db.samples import get_checkpoint

    with read_session(engine) as s:
        row = get_checkpoint(s, checkpoint_id)
    stored = Home.resolve(home).from_stored(row.path) if row.path else None
    if stored is None or not stored.is_file():
        raise EmojichError(f"checkpoint {key}'s file {stored or row.path} is missing")
    return stored


def generate_to_folder(home: Path, engine, checkpoint: str, prompt: str, *, n: int, top_k: int, top_p: float,
                       temperature: float, seed: int, batch_size: int, out: Path, size: int | None,
                       progress: bool = True) -> list[Path]:
    from training.config import config_from_dict
    from training.dalle.checkpoint import bundle_from_checkpoint, read_checkpoint
    from training.dalle.prompts import encode_prompts

    path = resolve_checkpoint(engine, checkpoint, home)
    dwt = size == DWT_SIZE
    if dwt:
        config = config_from_dict(read_checkpoint(path)["config"])
        if config.model.source != "pretrained":
            raise EmojichError("--size 512 decodes with rudalle's DWT VAE, which only fits the pretrained "
                               "ruDALL-E codes; this checkpoint's model is tiny")
    bundle, _ = bundle_from_checkpoint(path, Path(home), dwt=dwt)
    ids = encode_prompts(bundle.tokenizer, [prompt] * n, bundle.text_seq_length)
    seeds = list(range(seed, seed + n))
    codes, ppl = sample_codes(bundle.model, ids, seeds, SamplingParams(top_k, top_p, temperature, batch_size),
                              progress=progress)
    images = decode_images(bundle.vae, codes)
    if size and not dwt and images[0].size != (size, size):
        from PIL import Image

        images = [im.resize((size, size), Image.Resampling.LANCZOS) for im in images]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for s, image, p in zip(seeds, images, ppl.tolist(), strict=True):
        file = out / f"seed{s}_ppl{p:.2f}.png"
        image.save(file)
        written.append(file)
    return written
