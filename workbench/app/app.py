"""The Emojich Workbench: the only Streamlit entry (`emojich workbench` runs it).

Login (an access token, asked once per browser session: a reload or deep link is restored from a
session cookie, see workbench/app/remembered_login.py), the shared sidebar, navigation over
workbench/app/app_pages/, then the chosen page runs.
"""
from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from db.errors import EmojichError, InvalidToken
from db.raters import authenticate
from db.runs import list_runs
from workbench.app import remembered_login
from workbench.app.app_pages import shared
from workbench.app.components.session_cookie import session_cookie

PAGES = Path(__file__).parent / "app_pages"

st.set_page_config(page_title="Emojich Workbench", page_icon="🙂", layout="wide")


def _runs(session) -> list[tuple[int, str]]:
    return [(run.id, run.name) for run in list_runs(session)]


runs_query = shared.query(_runs)


def _log_in(row) -> None:
    st.session_state["auth.rater"] = shared.CurrentRater(row.id, row.name, bool(row.is_admin))
    st.session_state["auth.session_id"] = shared.remembered_sessions().issue(row.id, row.token_hash, time.time())


def restore_login() -> None:
    """A new Streamlit session (reload, deep link) picks up the browser session's remembered login."""
    if "auth.rater" in st.session_state:
        return
    session_id = st.context.cookies.get(remembered_login.COOKIE_NAME)
    if session_id is None:
        return
    with shared.reading() as session:
        row = remembered_login.restore(shared.remembered_sessions(), session_id, session, time.time())
        if row is not None:
            st.session_state["auth.rater"] = shared.CurrentRater(row.id, row.name, bool(row.is_admin))
            st.session_state["auth.session_id"] = session_id


def login() -> None:
    session_cookie(remembered_login.COOKIE_NAME, None, key="auth.cookie")  # clears a stale one
    st.title("Emojich Workbench")
    st.write("Enter the access token you were given (`emojich raters add NAME` prints one).")
    with st.form("login"):
        token = st.text_input("Access token", type="password", key="login.token")
        submitted = st.form_submit_button("Log in", type="primary")
    if submitted:
        try:
            with shared.reading() as session:
                _log_in(authenticate(session, token))
        except InvalidToken as exc:
            st.error(f"Login failed: {exc}")
        else:
            st.rerun()
    st.stop()


def sidebar(rater: shared.CurrentRater) -> None:
    with st.sidebar:
        st.markdown(f"**{rater.name}** · {'admin' if rater.is_admin else 'rater'}")
        runs = runs_query() if rater.is_admin else []  # raters never choose, or see, runs
        if runs:
            names = dict(runs)
            ids = [run_id for run_id, _ in runs]
            current = st.session_state.get("sidebar.run_id")
            st.selectbox(
                "Run", ids, index=ids.index(current) if current in ids else len(ids) - 1,
                format_func=names.get, key="sidebar.run_select",
                help="The run the admin pages look at (raters rate the run open for rating).",
            )
            st.session_state["sidebar.run_id"] = st.session_state["sidebar.run_select"]
        else:
            st.session_state["sidebar.run_id"] = None
        session_cookie(remembered_login.COOKIE_NAME, st.session_state.get("auth.session_id"), key="auth.cookie")
        if st.button("Log out", key="sidebar.logout"):
            shared.remembered_sessions().forget(st.session_state.get("auth.session_id"))
            for key in [k for k in st.session_state if not k.startswith("sidebar.")]:
                del st.session_state[key]
            st.rerun()


def navigation(logged_in: bool, is_admin: bool):
    """Built on every run (also before login, hidden, with every page) so a deep link like /masks
    survives login. Raters get the blind pages only: per-step results are for admins."""
    admin = is_admin or not logged_in
    sections = {
        "Rate": [
            st.Page(PAGES / "rate.py", title="Rate", icon="⭐", url_path="rate", default=True),
            st.Page(PAGES / "grid.py", title="Grid", icon="🔲", url_path="grid"),
            st.Page(PAGES / "compare.py", title="Compare", icon="⚖️", url_path="compare"),
        ],
        "Decide": [
            st.Page(PAGES / "checkpoints.py", title="Checkpoints", icon="📈", url_path="checkpoints"),
            st.Page(PAGES / "rater_quality.py", title="Raters", icon="🧑‍⚖️", url_path="raters"),
        ] if admin else [],
        "Curate": [
            st.Page(PAGES / "masks.py", title="Masks", icon="✂️", url_path="masks"),
            *([st.Page(PAGES / "stickers.py", title="Stickers", icon="🏷️", url_path="stickers")] if admin else []),
            st.Page(PAGES / "dataset.py", title="Dataset", icon="🗂️", url_path="dataset"),
        ],
    }
    return st.navigation({k: v for k, v in sections.items() if v}, position="sidebar" if logged_in else "hidden")


def main() -> None:
    try:
        shared.engine()
    except EmojichError as exc:
        st.error(str(exc))
        st.stop()
    restore_login()
    logged_in = "auth.rater" in st.session_state
    page = navigation(logged_in, logged_in and st.session_state["auth.rater"].is_admin)
    if not logged_in:
        login()
    sidebar(shared.rater())
    shared.show_flash()
    page.run()


main()
