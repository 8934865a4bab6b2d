"""Text people typed (prompts, rater names, decision reasons, captions, error messages that quote
them) shown as text, never as markdown: `![](http://host/x)` must not make browsers fetch from
that host, and `**…**`, `:red[…]`, `--` or `$…$` must not change what is shown.

Pages use `st.text` (no markdown, no HTML) or `prompt_heading` for such text; where a string must
go through markdown (alerts, captions), `escape_markdown` makes every character literal.
"""
from __future__ import annotations

import html
import re
import string

import streamlit as st

_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")  # CommonMark may escape any of these
_SPACE = re.compile(r"\s+")


def escape_markdown(text: str) -> str:
    """`text` as markdown that renders exactly `text` (whitespace runs become one space)."""
    return _PUNCTUATION.sub(r"\\\1", _SPACE.sub(" ", str(text)).strip())


def prompt_heading(text: str, size_rem: float = 1.5) -> None:
    """A prompt, large, as text (HTML-escaped; no markdown)."""
    st.html(f'<div style="font-size:{size_rem}rem;font-weight:600;line-height:1.3;margin:0.2rem 0 0.6rem">'
            f"«{html.escape(str(text))}»</div>")
