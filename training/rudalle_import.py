"""Import rudalle once, quietly (a leaf module: anything that needs rudalle calls this first)."""
from __future__ import annotations


def quiet_rudalle() -> None:
    """Import rudalle without its import-time FutureWarning (torch.jit.script), which would otherwise reach
    every command's stderr."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import rudalle  # noqa: F401
