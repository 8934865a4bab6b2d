"""View tokens go into component keys (Masks' click and brush components, Rate's input), and Streamlit's
bidirectional components refuse a key containing `__`: a random URL-safe token has one about once in 270
views, and the Masks page then ended in BidiComponentInvalidIdError (seen in CI)."""
from __future__ import annotations

import re

from workbench.app.app_pages import shared


def test_view_tokens_never_hold_the_component_key_delimiter():
    tokens = [shared.view_token() for _ in range(20_000)]  # URL-safe tokens: ~70 of these would hold "__"
    assert not [t for t in tokens if "__" in t]
    assert all(re.fullmatch(r"[0-9a-f]{24}", t) for t in tokens)  # 96 random bits, as before
    assert len(set(tokens)) == len(tokens)

