"""rudalle's model classes without its package `__init__`s.

On a bare GPU machine (no youtokentome, a huggingface_hub without `cached_download`), `import rudalle`
fails before any model code runs. The benchmarks only need `DalleModel` and `VQGanGumbelVAE`, whose
modules import torch, einops and taming alone: load them under empty parent packages when needed.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import types


def _light_import(name: str):
    existing = sys.modules.get("rudalle")
    if existing is not None and getattr(existing, "__path__", None):
        root = list(existing.__path__)[0]
    else:
        sys.modules.pop("rudalle", None)  # a half-imported package from a failed `import rudalle`
        spec = importlib.util.find_spec("rudalle")
        if spec is None:
            raise ImportError("rudalle is not on the path (on a GPU machine: bench/pack_gpu_deps.sh)")
        root = spec.submodule_search_locations[0]
    try:
        import pywt  # noqa: F401  (only rudalle's DWT decoder uses it)
    except ImportError:
        sys.modules["pywt"] = types.ModuleType("pywt")
    for pkg, path in (("rudalle", root), ("rudalle.dalle", f"{root}/dalle"), ("rudalle.vae", f"{root}/vae")):
        if pkg not in sys.modules:
            module = types.ModuleType(pkg)
            module.__path__ = [path]
            sys.modules[pkg] = module
    return importlib.import_module(name)


def dalle_model_class():
    try:
        from rudalle.dalle.model import DalleModel
    except ImportError:
        DalleModel = _light_import("rudalle.dalle.model").DalleModel
    return DalleModel


def vae_class():
    try:
        from rudalle.vae.model import VQGanGumbelVAE
    except ImportError:
        VQGanGumbelVAE = _light_import("rudalle.vae.model").VQGanGumbelVAE
    return VQGanGumbelVAE


def malevich_params() -> dict:
    """Malevich's geometry (rudalle.dalle.MODELS['Malevich']), written out for bare machines."""
    return dict(num_layers=24, hidden_size=2048, num_attention_heads=16, embedding_dropout_prob=0.1,
                output_dropout_prob=0.1, attention_dropout_prob=0.1, image_tokens_per_dim=32, text_seq_length=128,
                cogview_sandwich_layernorm=True, cogview_pb_relax=True, vocab_size=16384 + 128, image_vocab_size=8192)


class AttrDict(dict):
    __getattr__ = dict.__getitem__


def sber_vae_config() -> AttrDict:
    """rudalle's vqgan.gumbelf8-sber config (256 px, 8192 codes), as attribute dicts."""
    dd = dict(double_z=False, z_channels=256, resolution=256, in_channels=3, out_ch=3, ch=128, ch_mult=[1, 1, 2, 4],
              num_res_blocks=2, attn_resolutions=[32], dropout=0.0)
    params = AttrDict(kl_weight=1e-8, embed_dim=256, n_embed=8192, ddconfig=AttrDict(dd))
    return AttrDict(model=AttrDict(params=params))
