"""What every page shares: the engine, the logged-in rater, cached queries and images.

Not a page itself (app.py lists the pages explicitly). Query results are cached with a short
TTL, cleared after every write, and keyed on the database's data version (db/data_version.py), so a
checkpoint, run or U-Net round that a training job commits while the workbench serves shows up on
the next page run; images are immutable (keyed by sha256) and cached longer.
"""
from __future__ import annotations

import io
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import streamlit as st
from PIL import Image

from db.engine import make_engine, read_session, write_session
from db.errors import EmojichError
from db.home import Home, resolve_db_url

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
def writing():
    """One short write transaction; cached query results are dropped after it commits."""
    with write_session(engine()) as session:
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
        if _data_version(url) != seen:
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


@st.cache_resource(show_spinner=False)
def _remembered_for(url: str):
    from workbench.app.remembered_login import SessionStore

    return SessionStore()


def remembered_sessions():
    """The process-wide store of remembered logins (workbench/app/remembered_login.py), per database."""
    return _remembered_for(db_url())


def rater() -> CurrentRater:
    value = st.session_state.get("auth.rater")
    if value is None:  # app.py logs in before any page runs; a page run on its own stops here
        st.info("Log in first.")
        st.stop()
    return value


def selected_run_id() -> int | None:
    return st.session_state.get("sidebar.run_id")


def require_run() -> int:
    run_id = selected_run_id()
    if run_id is None:
        st.info("There are no runs yet: train one (`emojich train`) or seed fixture data.")
        st.stop()
    return run_id


def flash(message: str, kind: str = "success") -> None:
    """Show a message on the next run (after a callback or st.rerun)."""
    st.session_state["shared.flash"] = (kind, message)


def show_flash() -> None:
    kind, message = st.session_state.pop("shared.flash", (None, None))
    if message:
        getattr(st, kind)(message)


def report(exc: EmojichError) -> None:
    flash(str(exc), "error")
