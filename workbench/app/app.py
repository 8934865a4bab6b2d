"""The Emojich Workbench: the only Streamlit entry (`emojich workbench` serves it, inside
workbench/app/server.py).

Login (an access token, asked once per browser session; throttled per rater and per client:
db/login.py), the shared sidebar, navigation over workbench/app/app_pages/, then the chosen page
runs. Logins live in the database (db/login_sessions.py): a reload, a deep link or another app
server restores the rater from the HttpOnly session cookie, and every run and every write checks
that the login still exists, so a logout or token reset anywhere ends it here too.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

import streamlit as st
from sqlalchemy.exc import OperationalError

from db.engine import database_trouble
from db.errors import EmojichError, InvalidToken
from db.login import log_in
from db.login_limits import LoginThrottled
from db.login_sessions import check_live, end_session, restore
from db.runs import list_runs
from workbench.app import long_lived
from workbench.app.app_pages import shared
from workbench.app.components.session_cookie import session_cookie
from workbench.app.plain_text import escape_markdown
from workbench.app.session_routes import COOKIE_NAME

PAGES = Path(__file__).parent / "app_pages"
CLIENT_HEADER_ENV = "EMOJICH_CLIENT_IP_HEADER"  # e.g. X-Forwarded-For behind a load balancer

st.set_page_config(page_title="Emojich Workbench", page_icon="🙂", layout="wide")


def _runs(session) -> list[tuple[int, str]]:
    return [(run.id, run.name) for run in list_runs(session)]


runs_query = shared.query(_runs)


def client_address() -> str:
    """The address login attempts are counted against: the peer, or behind a load balancer the
    last hop of the header it sets (EMOJICH_CLIENT_IP_HEADER=X-Forwarded-For)."""
    header = os.environ.get(CLIENT_HEADER_ENV)
    if header:
        value = st.context.headers.get(header)
        if value:
            return value.split(",")[-1].strip()
    return st.context.ip_address or "unknown"


def restore_login() -> None:
    """Each run: the login this page holds must still exist; a new page session (reload, deep
    link, another app server) picks up the browser's remembered login from its cookie."""
    login_id = st.session_state.get("auth.login_id")
    if login_id is not None:
        with shared.reading() as session:
            live = check_live(session, login_id)
        current = st.session_state.get("auth.rater")
        if live is None or current is None or live.rater_id != current.id:
            shared.end_page_login()
        else:
            shared.set_login(live)
        return
    cookie = st.context.cookies.get(COOKIE_NAME)
    if cookie is None or st.session_state.get("auth.cookie_tried") == cookie:
        return
    st.session_state["auth.cookie_tried"] = cookie
    with shared.reading() as session:
        live = restore(session, cookie)
    if live is None:
        st.session_state["auth.logout"] = secrets.token_hex(8)  # a stale cookie: have the server clear it
    else:
        shared.set_login(live)


def login() -> None:
    session_cookie(handoff=None, logout=st.session_state.get("auth.logout"), key="auth.cookie")
    st.title("Emojich Workbench")
    shared.show_flash()
    st.write("Enter the access token you were given (`emojich raters add NAME` prints one).")
    with st.form("login"):
        token = st.text_input("Access token", type="password", key="login.token")
        submitted = st.form_submit_button("Log in", type="primary")
    if submitted:
        try:
            logged_in = log_in(shared.engine(), token, client_address())
        except LoginThrottled as exc:
            st.error(f"Login refused: {exc}")
        except InvalidToken as exc:
            st.error(f"Login failed: {exc}")
        else:
            st.session_state["auth.login_id"] = logged_in.login_id
            st.session_state["auth.handoff"] = logged_in.handoff
            st.session_state.pop("auth.logout", None)
            st.session_state["auth.rater"] = shared.CurrentRater(logged_in.rater_id, logged_in.name, logged_in.is_admin)
            st.rerun()
    st.stop()


def sidebar(rater: shared.CurrentRater) -> None:
    with st.sidebar:
        st.text(f"{rater.name} · {'admin' if rater.is_admin else 'rater'}")  # a name is text, never markdown
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
        session_cookie(handoff=st.session_state.get("auth.handoff"), logout=None, key="auth.cookie")
        if st.button("Log out", key="sidebar.logout"):
            with shared.writing(checked=False) as session:
                end_session(session, st.session_state.get("auth.login_id"))
            shared.end_page_login()
            shared.flash("Logged out.", "info")
            st.session_state["auth.logout"] = secrets.token_hex(8)  # the server clears the cookie
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
            *([st.Page(PAGES / "bot.py", title="Bot", icon="🤖", url_path="bot")] if admin else []),
        ],
    }
    return st.navigation({k: v for k, v in sections.items() if v}, position="sidebar" if logged_in else "hidden")


def main() -> None:
    try:
        try:
            shared.engine()
        except EmojichError as exc:
            st.error(escape_markdown(str(exc)))
            st.stop()
        _run()
    except OperationalError as exc:  # the write lock held past the busy timeout, a lost or refused connection
        message = database_trouble(exc)
        if message is None:
            raise
        st.error(message)
    finally:  # st.stop and st.rerun end a run by raising, and the collection after them walks the heap too
        long_lived.freeze_imports()


def _run() -> None:
    restore_login()
    logged_in = "auth.login_id" in st.session_state and "auth.rater" in st.session_state
    page = navigation(logged_in, logged_in and st.session_state["auth.rater"].is_admin)
    if not logged_in:
        login()
    sidebar(shared.rater())
    shared.show_flash()
    page.run()


main()
