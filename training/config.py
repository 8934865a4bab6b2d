"""Training configuration: frozen dataclasses loaded from TOML with strict overrides.

`load_config(path, overrides=["train.epochs=3", ...])` reads a TOML file, applies `section.key=value`
overrides and checks everything once: an unknown key, a wrong type or an out-of-range value fails
with one `ConfigError` naming it. `config_to_dict` gives the resolved config stored on the `runs` row
(and inside every checkpoint file); `config_from_dict` rebuilds it.
"""
from __future__ import annotations

import dataclasses
import importlib.resources
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from db.errors import EmojichError


class ConfigError(EmojichError):
    pass


# Shipped as package data: tiny.toml, emojich.toml, smoke.toml and prompts/ (`configs/` at the top of the
# source tree is a link to this folder).
CONFIGS_DIR = Path(str(importlib.resources.files("training") / "configs"))
SEED_MAX = 2**31 - 1  # seeds are stored in 32-bit integer columns (samples.seed) and feed torch generators
INT_RANGE = (-(2**63), 2**63 - 1)  # every integer of a config fits a 64-bit column and a C long


@dataclass(frozen=True)
class ModelConfig:
    """`source = "pretrained"`: a rudalle release loaded from `cache_dir`; `"tiny"`: random init, small."""

    source: str = "pretrained"
    name: str = "Malevich_v2"  # the November 2021 release the report fine-tuned; "Malevich" is v3
    hf_version: str = "v2"
    cache_dir: str = "models/rudalle"  # relative paths are under the home folder
    # geometry of a random-init model (source = "tiny"); a pretrained model uses its release's
    num_layers: int = 4
    hidden_size: int = 128
    num_attention_heads: int = 4
    text_seq_length: int = 16
    image_tokens_per_dim: int = 8
    image_vocab_size: int = 512
    dropout: float = 0.1

    def check(self) -> None:
        _one_of("model.source", self.source, ("pretrained", "tiny"))
        _one_of("model.hf_version", self.hf_version, ("v2", "v3"))
        for key in ("num_layers", "hidden_size", "num_attention_heads", "text_seq_length",
                    "image_tokens_per_dim", "image_vocab_size"):
            _at_least(f"model.{key}", getattr(self, key), 1)
        if self.hidden_size % self.num_attention_heads:
            raise ConfigError("model.hidden_size must be a multiple of model.num_attention_heads")
        _between("model.dropout", self.dropout, 0.0, 0.9)


@dataclass(frozen=True)
class TokenizerConfig:
    """The tiny path trains a YTTM BPE model on the dataset captions (ignored for pretrained)."""

    vocab_size: int = 600

    def check(self) -> None:
        _between("tokenizer.vocab_size", self.vocab_size, 64, 100_000)


@dataclass(frozen=True)
class VaeConfig:
    """The tiny path trains a small rudalle VQGanGumbelVAE first (ignored for pretrained)."""

    resolution: int = 32
    ch: int = 32
    ch_mult: list[int] = field(default_factory=lambda: [1, 2, 4])
    z_channels: int = 32
    embed_dim: int = 32
    num_res_blocks: int = 1
    steps: int = 600
    batch_size: int = 32
    lr: float = 2e-3
    temperature_start: float = 1.0
    temperature_end: float = 0.5
    kl_weight: float = 5e-4
    seed: int = 0
    # A VAE file shipped in training/tiny/shipped/ (made by `emojich tiny-vae`), copied instead of training
    # when it was trained with exactly these settings; "" always trains.
    shipped: str = ""

    def check(self) -> None:
        _at_least("vae.resolution", self.resolution, 8)
        if "/" in self.shipped or "\\" in self.shipped or self.shipped in (".", ".."):
            raise ConfigError("vae.shipped is a file name in training/tiny/shipped/, not a path")
        if self.ch % 32 or self.z_channels % 32 or self.embed_dim % 32:
            raise ConfigError("vae.ch, vae.z_channels and vae.embed_dim must be multiples of 32 (GroupNorm)")
        if not self.ch_mult or any(m < 1 for m in self.ch_mult):
            raise ConfigError("vae.ch_mult must be a non-empty list of positive integers")
        _at_least("vae.num_res_blocks", self.num_res_blocks, 1)
        _at_least("vae.steps", self.steps, 0)
        _at_least("vae.batch_size", self.batch_size, 1)
        _between("vae.lr", self.lr, 1e-7, 1.0)
        _between("vae.temperature_start", self.temperature_start, 0.01, 10.0)
        _between("vae.temperature_end", self.temperature_end, 0.01, 10.0)
        _between("vae.kl_weight", self.kl_weight, 0.0, 1.0)
        _between("vae.seed", self.seed, 0, SEED_MAX)


@dataclass(frozen=True)
class DataConfig:
    """Training data: `<home>/datasets/<dataset>/metadata.jsonl` + `rgb/` (split = train)."""

    dataset: str = "noto-ru"
    image_size: int = 256  # what the VAE encodes; 8 px per image token for the pretrained VAE
    build_size: int = 256  # size the dataset is built at when a pipeline builds it
    build_limit: int = 0  # 0: every emoji

    def check(self) -> None:
        if not self.dataset.strip():
            raise ConfigError("data.dataset must not be empty")
        _at_least("data.image_size", self.image_size, 8)
        _at_least("data.build_size", self.build_size, 8)
        _at_least("data.build_limit", self.build_limit, 0)


@dataclass(frozen=True)
class TrainConfig:
    freeze: list[str] = field(default_factory=lambda: ["attention", "mlp"])
    loss_img_weight: float = 1000.0
    optimizer: str = "adamw8bit"
    max_lr: float = 1e-5
    pct_start: float = 0.1
    div_factor: float = 25.0
    final_div_factor: float = 20.0
    weight_decay: float = 0.0
    epochs: int = 40
    max_steps: int = 0  # 0: epochs × batches per epoch
    batch_size: int = 2
    grad_clip: float = 1.0
    precision: str = "bf16"  # autocast dtype on CUDA; CPU runs in fp32
    log_every: int = 10
    seed: int = 42
    device: str = "auto"
    threads: int = 0  # CPU threads for the tiny path's training (torch.set_num_threads); 0 keeps torch's default

    def check(self) -> None:
        for part in self.freeze:
            _one_of("train.freeze entry", part, ("attention", "mlp"))
        _between("train.loss_img_weight", self.loss_img_weight, 0.0, 1e6)
        _one_of("train.optimizer", self.optimizer, ("adamw8bit", "adamw"))
        _between("train.max_lr", self.max_lr, 1e-9, 1.0)
        _between("train.pct_start", self.pct_start, 0.0, 0.99)
        _between("train.div_factor", self.div_factor, 1.0, 1e6)
        _between("train.final_div_factor", self.final_div_factor, 1.0, 1e9)
        _between("train.weight_decay", self.weight_decay, 0.0, 1.0)
        _at_least("train.epochs", self.epochs, 1)
        _at_least("train.max_steps", self.max_steps, 0)
        _at_least("train.batch_size", self.batch_size, 1)
        _between("train.grad_clip", self.grad_clip, 0.0, 1e6)
        _one_of("train.precision", self.precision, ("bf16", "fp16", "fp32"))
        _at_least("train.log_every", self.log_every, 1)
        _between("train.seed", self.seed, 0, SEED_MAX)
        _one_of("train.device", self.device, ("auto", "cpu", "cuda"))
        _between("train.threads", self.threads, 0, 256)


@dataclass(frozen=True)
class SamplingConfig:
    every: int = 6000
    at_start: bool = True
    prompts: str = "eval_ru"  # a shipped prompt file by name (configs/prompts/<name>.txt) or a path
    prompt_set: str = "eval_ru"
    top_k: int = 2048
    top_p: float = 0.995
    temperature: float = 1.0
    seed: int = 42
    batch_size: int = 16

    def check(self) -> None:
        _at_least("sampling.every", self.every, 1)
        _at_least("sampling.top_k", self.top_k, 0)
        _between("sampling.top_p", self.top_p, 1e-6, 1.0)
        if not self.top_p > 0:
            raise ConfigError("sampling.top_p must be > 0")
        _between("sampling.temperature", self.temperature, 1e-3, 100.0)
        _between("sampling.seed", self.seed, 0, SEED_MAX)
        _at_least("sampling.batch_size", self.batch_size, 1)


@dataclass(frozen=True)
class Config:
    name: str = "emojich"
    model: ModelConfig = field(default_factory=ModelConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    vae: VaeConfig = field(default_factory=VaeConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)

    def check(self) -> None:
        if not self.name.strip():
            raise ConfigError("name must not be empty")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if dataclasses.is_dataclass(value):
                value.check()
        if self.model.source == "tiny" and self.vae.resolution != self.model.image_tokens_per_dim * 2 ** (
            len(self.vae.ch_mult) - 1
        ):
            raise ConfigError(
                "vae.resolution must equal model.image_tokens_per_dim × 2^(len(vae.ch_mult) - 1) "
                f"({self.model.image_tokens_per_dim} × {2 ** (len(self.vae.ch_mult) - 1)})"
            )


# ---------------------------------------------------------------- loading


def shipped_configs() -> dict[str, Path]:
    """The configs shipped with the package (`configs/*.toml`), by name."""
    return {p.stem: p for p in sorted(CONFIGS_DIR.glob("*.toml"))}


def resolve_config(value: str | Path) -> Path:
    """A config path, or the name of a shipped config (`tiny`, `emojich`, `smoke`)."""
    path = Path(value).expanduser()
    if path.is_file():
        return path
    shipped = shipped_configs()
    if str(value) in shipped:
        return shipped[str(value)]
    if not path.is_absolute() and path.parts[:1] == ("configs",) and CONFIGS_DIR.joinpath(*path.parts[1:]).is_file():
        return CONFIGS_DIR.joinpath(*path.parts[1:])  # `configs/X.toml` finds the shipped file from any folder
    if path.suffix or "/" in str(value):
        raise ConfigError(f"config file {path} not found")
    raise ConfigError(f"config {str(value)!r} is neither a file nor a shipped config ({', '.join(shipped)})")


def resolve_prompt_file(value: str) -> Path:
    """`sampling.prompts`: a shipped prompt file by name (`eval_ru`) or a path."""
    shipped = CONFIGS_DIR / "prompts" / f"{value}.txt"
    if "/" not in value and "\\" not in value and shipped.is_file():
        return shipped
    path = Path(value).expanduser()
    if not path.exists() and path.parts[:2] == ("configs", "prompts"):  # runs stored before configs shipped
        return CONFIGS_DIR.joinpath(*path.parts[1:])
    return path


def load_config(path: str | Path, overrides: typing.Sequence[str] = ()) -> Config:
    """Load a config by path or shipped name, apply `section.key=value` overrides, check it."""
    path, data = read_config_data(path, overrides)
    return config_from_dict(data, origin=str(path))


def read_config_data(value: str | Path, overrides: typing.Sequence[str] = ()) -> tuple[Path, dict]:
    """A config file (by path or shipped name) as a dict with the `section.key=value` overrides applied: what
    every kind of config (runs, captioners) is built from."""
    path = resolve_config(value)
    data = _read_extended(path, ())
    for item in overrides:
        _apply_override(data, item)
    return path, data


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None


def _read_extended(path: Path, seen: tuple[Path, ...]) -> dict:
    """A config file with `extends = "other"` read on top of that other config (a shipped name, or a
    path relative to this file): its keys replace the other's, section by section."""
    data = _read_toml(path)
    base = data.pop("extends", None)
    if base is None:
        return data
    if not isinstance(base, str) or not base:
        raise ConfigError(f"config file {path}: `extends` must name a config, got {base!r}")
    sibling = path.parent / base
    base_path = sibling if sibling.suffix == ".toml" and sibling.is_file() else resolve_config(base)
    if base_path.resolve() in seen or base_path.resolve() == path.resolve():
        raise ConfigError(f"config file {path}: `extends` goes round in a circle ({base})")
    merged = _read_extended(base_path, (*seen, path.resolve()))
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def config_from_dict(data: dict, origin: str = "config") -> Config:
    config = _build(Config, data, prefix="", origin=origin)
    config.check()
    return config


def config_to_dict(config: Config) -> dict:
    return dataclasses.asdict(config)


def replace(config: Config, **sections) -> Config:
    """A copy with some keys changed: `replace(cfg, train={"epochs": 2})` (checked like a load)."""
    data = config_to_dict(config)
    for section, values in sections.items():
        if isinstance(values, dict):
            data.setdefault(section, {}).update(values)
        else:
            data[section] = values
    return config_from_dict(data)


# What `--set key=word` may leave unquoted: no quotes, brackets, braces or `=`; anything else must be TOML.
_BARE_WORD = re.compile(r"[^\"'\[\]{}=]*")


def _apply_override(data: dict, item: str) -> None:
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"override {item!r} must look like section.key=value")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError as exc:
        if _BARE_WORD.fullmatch(raw) is None:  # quoted, a list or a table that does not parse: a typo
            raise ConfigError(f"override {key}: malformed value {raw[:80]!r} ({exc})") from None
        value = raw  # a bare word is a string
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {key!r}: {part!r} is not a section")
    node[parts[-1]] = value


def _build(cls, data, prefix: str, origin: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: {prefix.rstrip('.') or 'config'} must be a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{origin}: unknown key {prefix}{unknown[0]} (valid keys: {', '.join(sorted(fields))})"
        )
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, value, f"{prefix}{name}.", origin)
        else:
            values[name] = _coerce(value, hint, f"{prefix}{name}", origin)
    return cls(**values)


def _coerce(value, hint, key: str, origin: str):
    origin_type = typing.get_origin(hint)
    if origin_type is list:
        (item_type,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"{origin}: {key} must be a list, got {value!r}")
        return [_coerce(v, item_type, f"{key}[]", origin) for v in value]
    if origin_type in (typing.Union, types.UnionType):
        raise ConfigError(f"{origin}: {key}: unsupported type")
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, bool) or not isinstance(value, hint):
        raise ConfigError(f"{origin}: {key} must be {hint.__name__}, got {value!r}")
    if hint is int and not INT_RANGE[0] <= value <= INT_RANGE[1]:
        raise ConfigError(f"{origin}: {key} is out of range (a 64-bit integer); got {value}")
    return value


def _one_of(key: str, value, allowed) -> None:
    if value not in allowed:
        raise ConfigError(f"{key} must be one of {', '.join(map(str, allowed))}; got {value!r}")


def _at_least(key: str, value, low) -> None:
    if value < low:
        raise ConfigError(f"{key} must be ≥ {low}; got {value!r}")


def _between(key: str, value, low, high) -> None:
    if not low <= value <= high:
        raise ConfigError(f"{key} must be between {low} and {high}; got {value!r}")
