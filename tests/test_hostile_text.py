"""Text people type is shown as text on every page: prompts, rater names, run and dataset names,
decision reasons. Markdown in them (`![](http://host/…)` makes every rater's browser fetch from
that host; `**…**`, `:red[…]`, `--`, `$…$` change what is shown) must never reach a markdown body,
a label, a caption or a tooltip; where it is shown, it is plain text or escaped HTML."""
from __future__ import annotations

import html
from pathlib import Path

import pytest
from google.protobuf.message import Message
from markdown_it import MarkdownIt
from sqlalchemy import update
from streamlit.testing.v1 import AppTest

from db.decisions import add_decision
from db.engine import write_session
from db.models import DatasetItem, Prompt, Rater, Run
from workbench.app.plain_text import escape_markdown

APP = str(Path(__file__).resolve().parent.parent / "workbench" / "app" / "app.py")
HOSTILE = "![x](http://evil.example/p.png) **bold** :red[red] -- $x^2$ <img src=x onerror=alert(1)> [link](http://evil.example)"
SHORT = "![](http://evil.example/a) **bold** :red[r] $x^2$"  # fits a rater name (100 characters)
RAW_FRAGMENTS = ("evil.example", "**bold**", ":red[", "$x^2$", "<img")
PAGES = ["rate", "grid", "compare", "checkpoints", "masks", "stickers", "dataset"]
# (element type, field) pairs that are shown without markdown
PLAIN_FIELDS = {("text", "body"), ("selectbox", "options"), ("text_input", "value"), ("html", "body")}


def _strings(message: Message, prefix: str = ""):
    for field, value in message.ListFields():
        values = value if field.is_repeated else [value]
        for item in values:
            if isinstance(item, Message):
                yield from _strings(item, f"{prefix}{field.name}.")
            elif isinstance(item, str):
                yield f"{prefix}{field.name}", item


def shown_strings(at: AppTest):
    """(element type, field, string) for every string of every element on the page."""
    for node in at._tree:
        proto = getattr(node, "proto", None)
        if isinstance(proto, Message) and not hasattr(node, "children"):
            for field, value in _strings(proto):
                yield node.type, field, value


def test_escaped_markdown_renders_exactly_the_text():
    md = MarkdownIt("commonmark")
    for text in (HOSTILE, "---", "# not a heading", "1. not a list", "> no quote", "a\\b `c` *d* _e_ &amp; &#58;", "x\n\ny"):
        rendered = md.renderInline(escape_markdown(text))
        assert html.unescape(rendered) == " ".join(text.split()), text
        assert "<" not in rendered.replace("&lt;", "")  # no tag of any kind


@pytest.fixture
def hostile_db(engine, seeded):
    with write_session(engine) as s:
        s.execute(update(Prompt).values(text=Prompt.position.cast(Prompt.text.type).concat(" " + HOSTILE)))
        s.execute(update(Run).values(name="run " + HOSTILE))
        s.execute(update(Rater).where(Rater.id == seeded.admin[0]).values(name="admin " + SHORT))
        s.execute(update(DatasetItem).values(dataset="set " + HOSTILE, caption="кот " + HOSTILE))
        add_decision(s, seeded.admin[0], seeded.checkpoint_ids[1], "because " + HOSTILE)
    return seeded


def test_hostile_text_is_text_on_every_page(app_env, hostile_db):
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.text_input(key="login.token").input(hostile_db.admin[1])
    at.button[0].click().run()
    seen_as_text = set()
    for page in PAGES:
        at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        for kind, field, value in shown_strings(at):
            if (kind, field.split(".")[-1]) in PLAIN_FIELDS or kind in ("bidi_component", "arrow_data_frame"):
                if kind == "html":
                    assert "<img" not in value, (page, value)  # HTML-escaped; st.html does no markdown
                if any(t in value or html.escape(t) in value for t in (HOSTILE, SHORT)):
                    seen_as_text.add((page, kind))
                continue
            leaked = [f for f in RAW_FRAGMENTS if f in value]
            assert not leaked, f"{page}: {kind}.{field} shows {leaked} as markdown: {value[:200]!r}"
    # where the text is shown, it is there in full, as text (Rate's prompt goes to its component, which sets
    # as textContent, never as markup: components/score_keys.py)
    assert {("rate", "bidi_component"), ("compare", "html"), ("masks", "html"), ("stickers", "text"),
            ("checkpoints", "text"), ("rate", "text")} <= seen_as_text, seen_as_text
