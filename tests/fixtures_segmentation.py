"""pytest fixtures for the segmentation area (registered in conftest.py).

- `generated_samples` (per test): a run, a prompt set and one checkpoint whose samples are the
  tiny dataset's RGB images (real emoji on white standing in for generated ones); returns
  GeneratedSamples(checkpoint_id, sample_ids, files).
- `seg_home` (per test): the temp `home` with the tiny dataset linked in at
  <home>/datasets/<name> (where rounds read dataset images) and registered in the DB.
- `seg_rater`: a rater id for manual masks.
- `tiny_pairs` (session): the tiny dataset's (rgb, mask) arrays and splits, read from its folder.
- `small_unet` (session): a resnet18 U-Net (slim decoder, 64 px) trained a few steps on the tiny
  dataset and saved; returns its path.
- `one_torch_thread`: runs a test with one torch thread, restoring the count after. The U-Net tests
  use it: on a 2-core machine shared with other jobs, two threads spin-wait on each other and
  the same tests took 12× longer (216 s against 18 s measured).
- `white_interior_cases` (session): emoji with white regions enclosed by an outline (eyes, paper,
  cloud, sheep, ...) rendered from the installed Noto font at 128 px: (emoji, rgb, truth) triples.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image

# white_share ≥ 0.3 in Noto except the cloud (light grey-blue fill, kept because the brief names it)
WHITE_INTERIOR_EMOJI = ("👀", "📄", "☁", "🐑", "💭", "🍙", "📃", "🐼")


@dataclass(frozen=True)
class GeneratedSamples:
    checkpoint_id: int
    sample_ids: list[int]
    files: list[str]


@pytest.fixture
def generated_samples(engine, tiny_dataset) -> GeneratedSamples:
    from db.engine import write_session
    from db.runs import add_run
    from db.samples import NewSample, add_checkpoint_with_samples, ensure_prompt_set

    files = sorted(p.name for p in (tiny_dataset.directory / "rgb").glob("*.png"))[:12]
    images = []
    for name in files:
        with Image.open(tiny_dataset.directory / "rgb" / name) as image:
            images.append(image.convert("RGB"))
    with write_session(engine) as session:
        run = add_run(session, "seg-test-run", {"kind": "test"})
        prompts = ensure_prompt_set(session, "seg-test-prompts", [f"эмодзи {i}" for i in range(len(files))])
        checkpoint = add_checkpoint_with_samples(
            session,
            run.id,
            step=100,
            epoch=1.0,
            path=None,
            samples=[NewSample(prompt_id=p.id, seed=42, image=img) for p, img in zip(prompts.prompts, images, strict=True)],
        )
        checkpoint_id = checkpoint.id
    from db.engine import read_session
    from db.samples import list_samples

    with read_session(engine) as session:
        sample_ids = [s.id for s in list_samples(session, checkpoint_id)]
    return GeneratedSamples(checkpoint_id, sample_ids, files)


@pytest.fixture
def one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def seg_home(home, tiny_dataset):
    (home / "datasets").mkdir(exist_ok=True)
    (home / "datasets" / tiny_dataset.name).symlink_to(tiny_dataset.directory, target_is_directory=True)
    return home


@pytest.fixture
def seg_rater(engine) -> int:
    from db.engine import write_session
    from db.raters import add_rater

    with write_session(engine) as session:
        rater, _token = add_rater(session, "mask-fixer")
        return rater.id


@dataclass(frozen=True)
class TinyPairs:
    files: list[str]
    rgbs: list[np.ndarray]
    masks: list[np.ndarray]
    splits: list[str]

    def split(self, name: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
        keep = [i for i, s in enumerate(self.splits) if s == name]
        return [self.rgbs[i] for i in keep], [self.masks[i] for i in keep]


@pytest.fixture(scope="session")
def tiny_pairs(tiny_dataset_dir) -> TinyPairs:
    from training.dataset.layout import read_metadata

    records = read_metadata(tiny_dataset_dir)
    rgbs, masks = [], []
    for record in records:
        with Image.open(tiny_dataset_dir / "rgb" / record.file) as rgb:
            rgbs.append(np.asarray(rgb.convert("RGB")))
        with Image.open(tiny_dataset_dir / "mask" / record.file) as mask:
            masks.append(np.asarray(mask.convert("L")) >= 128)
    return TinyPairs([r.file for r in records], rgbs, masks, [r.split for r in records])


@pytest.fixture(scope="session")
def small_unet(tmp_path_factory, tiny_pairs):
    import torch

    from training.segmentation.data import PairSet
    from training.segmentation.model import Gate, build_model, save_model, small_config
    from training.segmentation.train import TrainConfig, train_unet

    config = small_config(image_size=64)
    model = build_model(config)
    rgbs, masks = tiny_pairs.split("train")
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # see one_torch_thread
    try:
        train_unet(model, PairSet.from_arrays(rgbs, masks, 64), TrainConfig(epochs=4, batch_size=16, lr=3e-3))
    finally:
        torch.set_num_threads(before)
    return save_model(tmp_path_factory.mktemp("seg_model") / "small.pt", model, config, Gate("mean", 0.99), None)


@pytest.fixture(scope="session")
def white_interior_cases() -> list[tuple[str, np.ndarray, np.ndarray]]:
    from training.dataset.alpha import alpha_mask, rgba_to_rgb
    from training.dataset.render import NotoRenderer

    renderer = NotoRenderer()
    cases = []
    for emoji in WHITE_INTERIOR_EMOJI:
        rgba = renderer.render(emoji)
        assert rgba is not None, f"the Noto font lacks {emoji}"
        rgba = rgba.resize((128, 128), Image.LANCZOS)
        cases.append((emoji, np.asarray(rgba_to_rgb(rgba)), np.asarray(alpha_mask(rgba)) >= 128))
    return cases
