"""What every page shares: the engine, the logged-in rater, cached queries and images.

Not a page itself (app.py lists the pages explicitly). Query results are cached with a short
TTL, cleared after every write, and keyed on the database's data version (db/data_version.py), so a
checkpoint, run or U-Net round that a training job commits while the workbench serves shows up on
the next page run; images are immutable (keyed by sha256) and cached longer.
"""
from __future__ import annotations

import io
import secrets
import struct
import zlib
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import streamlit as st
from PIL import Image
from sqlalchemy.exc import OperationalError

from db.engine import database_trouble, make_engine, read_session, write_session
from db.errors import EmojichError
from db.home import Home, resolve_db_url
from db.login_sessions import SessionEnded, require_live

QUERY_TTL_S = 30
DATA_VERSION_TTL_S = 1.0  # how stale "is there a new checkpoint?" may be; one indexed query per second


@dataclass(frozen=True)
class CurrentRater:
    id: int
    name: str
    is_admin: bool


def db_url() -> str:
    return resolve_db_url()


def home() -> Home:
    """The home folder `emojich workbench` was started with (EMOJICH_HOME)."""
    return Home.resolve()


@st.cache_resource(show_spinner=False)
def _engine_for(url: str):
    from db.migrate import require_head

    engine = make_engine(url)
    try:
        require_head(engine)
    except EmojichError:
        engine.dispose()
        raise
    return engine


def engine():
    return _engine_for(db_url())


@contextmanager
def reading():
    with read_session(engine()) as session:
        yield session


@contextmanager
def writing(*, checked: bool = True):
    """One short write transaction made by the logged-in person; cached query results are
    dropped after it commits. It first re-checks, inside the same transaction, that this page's
    login still exists (db/login_sessions.py `require_live`): after a logout elsewhere or a token
    reset it raises SessionEnded, saves nothing and the page asks for the token again."""
    with write_session(engine()) as session:
        if checked:
            try:
                live = require_live(session, st.session_state.get("auth.login_id"))
                current = st.session_state.get("auth.rater")
                if current is None or current.id != live.rater_id:
                    raise SessionEnded("this page's login changed; nothing was saved: log in again")
            except SessionEnded as exc:
                end_page_login(str(exc))
                raise
        yield session
    clear_queries()


_QUERIES: dict[str, Callable] = {}


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def _cached_query(name: str, url: str, version: tuple[int, ...], *args):
    with read_session(_engine_for(url)) as session:
        return _QUERIES[name](session, *args)


@st.cache_data(ttl=DATA_VERSION_TTL_S, show_spinner=False)
def _data_version(url: str) -> tuple[int, ...]:
    from db.data_version import data_version

    with read_session(_engine_for(url)) as session:
        return data_version(session)


def query(fn: Callable) -> Callable:
    """Cache a query function `fn(session, *args)` as `cached(*args)` for QUERY_TTL_S seconds, or until
    a job adds a run, checkpoint, U-Net round or dataset item. Results must be plain values or
    dataclasses (they are pickled)."""
    # Page scripts all run as __main__: the defining file keeps same-named helpers apart.
    name = f"{fn.__code__.co_filename}:{fn.__qualname__}"
    _QUERIES[name] = fn

    def call(*args):
        url = db_url()
        return _cached_query(name, url, _data_version(url), *args)

    call.__name__ = fn.__name__
    return call


def rerun_on_new_data(every_s: float = 5.0) -> None:
    """While this page is shown, rerun the app as soon as a job commits a new checkpoint, run or U-Net round
    (a rater who has rated everything sees the next checkpoint's samples without touching anything)."""
    url = db_url()
    seen = _data_version(url)

    @st.fragment(run_every=every_s)
    def watch() -> None:
        try:
            changed = _data_version(url) != seen
        except OperationalError as exc:  # the database is away for a moment: the next tick asks again
            if database_trouble(exc) is None:
                raise
            return
        if changed:
            st.rerun()

    watch()


def clear_queries() -> None:
    _cached_query.clear()
    _data_version.clear()


@st.cache_data(max_entries=4096, show_spinner=False)
def _png(url: str, sha256: str) -> bytes:
    from db.images import get_png

    with read_session(_engine_for(url)) as session:
        return get_png(session, sha256)


def png(sha256: str) -> bytes:
    return _png(db_url(), sha256)


def pil(sha256: str) -> Image.Image:
    image = Image.open(io.BytesIO(png(sha256)))
    image.load()
    return image


@st.cache_data(max_entries=8192, show_spinner=False)
def _enlarged(url: str, sha256: str, size: int) -> bytes:
    image = Image.open(io.BytesIO(_png(url, sha256)))
    # Small samples are enlarged without smoothing so raters judge the real pixels.
    resample = Image.Resampling.NEAREST if image.width * 2 <= size else Image.Resampling.LANCZOS
    out = io.BytesIO()
    image.convert("RGBA" if image.mode in ("RGBA", "LA") else "RGB").resize((size, size), resample).save(out, "PNG")
    return out.getvalue()


def image_at(sha256: str, size: int) -> bytes:
    """The image as PNG bytes at size×size (cached: images never change)."""
    return _enlarged(db_url(), sha256, size)


def set_login(live) -> None:
    """This page session holds `live` (db/login_sessions.py LiveLogin): name and role as stored now."""
    st.session_state["auth.login_id"] = live.login_id
    st.session_state["auth.rater"] = CurrentRater(live.rater_id, live.name, live.is_admin)
def view_token() -> str:
    """A fresh opaque token for one view of an image (what a page sends instead of an id). Hex: tokens go
    into component keys, and Streamlit's bidirectional components refuse a key holding `__`, which a
    URL-safe token has about once in 270."""
    return secrets.token_hex(12)


def _with_view_chunk(png_bytes: bytes, view: str) -> bytes:
    # A tEXt chunk after IHDR (8-byte signature + 25-byte IHDR chunk): same pixels, other bytes,
    # so Streamlit's media file name (a hash of the bytes) differs from view to view.
    data = b"v\x00" + view.encode()
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data + struct.pack(">I", zlib.crc32(b"tEXt" + data))
    return png_bytes[:33] + chunk + png_bytes[33:]


@st.cache_data(max_entries=4096, show_spinner=False)
def _blind(url: str, sha256: str, size: int, view: str) -> bytes:
    return _with_view_chunk(_enlarged(url, sha256, size), view)


def blind_image(sha256: str, size: int, view: str) -> bytes:
    """The image as PNG at size×size under a name of its own for this view (`view`: a view token):
    the file a rater's browser loads says nothing about the sample, and never the same twice."""
    return _blind(db_url(), sha256, size, view)


def blind_pil(image: Image.Image, view: str) -> bytes:
    """A PIL image (e.g. a mask overlay) as PNG bytes under a per-view name, as `blind_image`."""
    out = io.BytesIO()
    image.save(out, "PNG")
    return _with_view_chunk(out.getvalue(), view)


@st.cache_data(max_entries=4096, show_spinner=False)
def _clean(url: str, sha256: str) -> bytes:
    image = Image.open(io.BytesIO(_png(url, sha256)))
    out = io.BytesIO()
    image.convert("RGBA" if image.mode in ("RGBA", "LA") else "RGB").save(out, "PNG")
    return out.getvalue()


def native_png(sha256: str) -> bytes:
    """The image at its own size as a plain PNG (pixels only, no metadata): the Rate page sends it
    inline and the browser enlarges it nearest-neighbour."""
    return _clean(db_url(), sha256)


def end_page_login(message: str | None = None) -> None:
    """Forget this page's login (not the database row) and everything the pages kept; the next
    run shows the login form, with `message` when given."""
    for key in [k for k in st.session_state if not k.startswith("sidebar.")]:
        del st.session_state[key]
    flash(message or "Your login has ended (logged out elsewhere, token reset, or expired): log in again.", "warning")


def rater() -> CurrentRater:
    value = st.session_state.get("auth.rater") if "auth.login_id" in st.session_state else None
    if value is None:  # app.py logs in before any page runs; a page run on its own stops here
        st.info("Log in first.")
        st.stop()
    return value


def selected_run_id() -> int | None:
    return st.session_state.get("sidebar.run_id")


def require_admin() -> CurrentRater:
    """Admin pages stop here for raters (their navigation does not list them either)."""
    current = rater()
    if not current.is_admin:
        st.info("This page is for admins. Raters see their own progress on the Rate page.")
        st.stop()
    return current


def _rating_run(session) -> int | None:
    from db.rating_design import rating_run_id

    return rating_run_id(session)


rating_run_query = query(_rating_run)


def rating_run_id() -> int | None:
    """The run a page shows: raters always get the run open for rating (they never choose, or see,
    runs); admins the one picked in the sidebar."""
    if rater().is_admin:
        return selected_run_id()
    return rating_run_query()


def require_rating_run() -> int:
    run_id = rating_run_id()
    if run_id is None:
        st.info("There is nothing to rate yet: no run has samples. This page shows them as soon as a run writes some.")
        rerun_on_new_data()
        st.stop()
    return run_id


def require_run() -> int:
    run_id = selected_run_id()
    if run_id is None:
        st.info("There are no runs yet: train one (`emojich train`) or seed fixture data.")
        rerun_on_new_data()
        st.stop()
    return run_id


def flash(message: str, kind: str = "success", *, toast: bool = False) -> None:
    """Show a message on the next run (after a callback or st.rerun). `toast`: as a toast that
    does not move the page (the Rate page's confirmations, so the image keeps its place and size)."""
    st.session_state["shared.flash"] = (kind, message, toast)


def show_flash() -> None:
    # Always one element here, message or not, so the elements after it keep their places from run
    # to run (a custom component that moved would be mounted afresh and lose what it holds).
    slot = st.empty()
    kind, message, toast = st.session_state.pop("shared.flash", (None, None, False))
    if message and toast:
        st.toast(message, icon="✅" if kind == "success" else "ℹ️")
    elif message:
        getattr(slot, kind)(message)


def report(exc: EmojichError) -> None:
    """An error for the next run; its message may quote what someone typed, so it is shown as text."""
    from workbench.app.plain_text import escape_markdown

    flash(escape_markdown(str(exc)), "error")
