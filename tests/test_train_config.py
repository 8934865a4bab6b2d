"""Configs: the recipe and tiny TOML load, overrides are strict, the LR schedule is the report's."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from training.config import ConfigError, config_from_dict, config_to_dict, load_config
from training.dalle.optim import make_scheduler
from training.dalle.train import sampling_steps

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_recipe_config_is_the_report():
    c = load_config(CONFIGS / "emojich.toml")
    assert (c.model.source, c.model.name, c.model.hf_version) == ("pretrained", "Malevich_v2", "v2")
    assert c.train.freeze == ["attention", "mlp"]
    assert c.train.loss_img_weight == 1e3 and c.train.optimizer == "adamw8bit"
    assert (c.train.epochs, c.train.batch_size, c.train.grad_clip) == (40, 2, 1.0)
    assert (c.sampling.every, c.sampling.top_k, c.sampling.top_p, c.sampling.seed, c.sampling.batch_size) == (
        6000, 2048, 0.995, 42, 16)
    assert c.sampling.at_start
    assert config_from_dict(config_to_dict(c)) == c


def test_eval_prompts_are_64_and_include_the_report():
    texts = (CONFIGS / "prompts" / "eval_ru.txt").read_text(encoding="utf-8").splitlines()
    assert len(texts) == 64 and len(set(texts)) == 64
    for must in ("Эйнштейн улыбается", "женщина-кошка", "арфа в форме улитки", "зима в горах"):
        assert must in texts


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.bogus=1", "unknown key train.bogus"),
        ("nosection.x=1", "unknown key nosection"),
        ("train.epochs=\"many\"", "train.epochs must be int"),
        ("train.epochs=true", "train.epochs must be int"),
        ("train.max_lr=-1", "train.max_lr must be between"),
        ("sampling.top_p=1.5", "sampling.top_p must be between"),
        ("train.optimizer=sgd", "train.optimizer must be one of"),
        ("model.hf_version=v9", "model.hf_version must be one of"),
        ("train.epochs", "must look like section.key=value"),
    ],
)
def test_bad_overrides_fail_with_one_clear_message(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(CONFIGS / "emojich.toml", [override])


def test_overrides_apply_and_ints_widen_to_floats():
    c = load_config(CONFIGS / "tiny.toml", ["train.epochs=2", "train.max_lr=1", "name=other"])
    assert (c.train.epochs, c.train.max_lr, c.name) == (2, 1.0, "other")


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


def test_one_cycle_lr_start_peak_end_are_the_reports():
    config = load_config(CONFIGS / "emojich.toml")
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=config.train.max_lr)
    total = 1000
    scheduler = make_scheduler(optimizer, config, total)
    lrs = []
    for _ in range(total):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[0] == pytest.approx(4e-7, rel=1e-9)
    assert max(lrs) == pytest.approx(1e-5, rel=1e-9)
    assert lrs.index(max(lrs)) == int(0.1 * total) - 1
    assert lrs[-1] == pytest.approx(2e-8, rel=1e-6)


def test_sampling_points_include_start_every_and_end():
    config = load_config(CONFIGS / "emojich.toml")
    assert sampling_steps(config, 13000) == [0, 6000, 12000, 13000]


def test_a_config_can_extend_another_section_by_section(tmp_path):
    child = tmp_path / "child.toml"
    child.write_text('extends = "smoke"\nname = "child"\n[train]\nseed = 7\n', encoding="utf-8")
    c, smoke = load_config(child), load_config("smoke")
    assert c.name == "child" and c.train.seed == 7
    assert c.model == smoke.model and c.train.batch_size == smoke.train.batch_size  # the rest is smoke's
    grandchild = tmp_path / "grandchild.toml"
    grandchild.write_text('extends = "child.toml"\n[train]\nbatch_size = 4\n', encoding="utf-8")  # beside it
    g = load_config(grandchild)
    assert (g.name, g.train.seed, g.train.batch_size) == ("child", 7, 4)
    assert load_config(grandchild, ["train.seed=3"]).train.seed == 3  # --set still wins


def test_extends_in_a_circle_or_naming_nothing_is_one_clear_error(tmp_path):
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n', encoding="utf-8")
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="circle"):
        load_config(tmp_path / "a.toml")
    (tmp_path / "c.toml").write_text("extends = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="must name a config"):
        load_config(tmp_path / "c.toml")
    (tmp_path / "d.toml").write_text('extends = "no-such"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="neither a file nor a shipped config"):
        load_config(tmp_path / "d.toml")


def test_the_shipped_smoke_captioner_is_the_tiny_one_with_fewer_steps():
    from training.captioner.config import load_captioner_config

    smoke, tiny = load_captioner_config("captioner-smoke"), load_captioner_config("captioner-tiny")
    assert (smoke.train.steps, smoke.train.batch_size, smoke.train.eval_others) == (8, 16, 2)
    assert smoke.model == tiny.model and smoke.data == tiny.data
