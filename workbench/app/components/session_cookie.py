"""Asks the app server to set or clear the HttpOnly login cookie (workbench/app/session_routes.py).

Page JavaScript never sees the cookie's value: after a login it posts the one-time handoff code,
and the server's answer carries the cookie; after a logout it posts to the logout route, which
forgets the login and clears the cookie. Each code or logout is sent once per page (the script
also runs on reruns). The v2 component's script runs in the app page itself, same origin.
"""
from __future__ import annotations

import streamlit as st

_JS = """
export default function (component) {
  const { data } = component;
  const sent = (window.__emojichSessionPosts = window.__emojichSessionPosts || new Set());
  const post = (url, body, once) => {
    if (sent.has(once)) return;
    sent.add(once);
    fetch(url, { method: "POST", body: body, credentials: "same-origin", headers: { "Content-Type": "text/plain" } })
      .catch(() => sent.delete(once));
  };
  if (data.handoff) post(data.session_url, data.handoff, "handoff:" + data.handoff);
  if (data.logout) post(data.logout_url, "", "logout:" + data.logout);
}
"""

_component = st.components.v2.component("emojich.session_cookie", html="", js=_JS)


def session_cookie(*, handoff: str | None, logout: str | None, key: str) -> None:
    """`handoff`: a login's one-time code, traded for the cookie. `logout`: a fresh value per
    logout, which clears the cookie and forgets its login."""
    from workbench.app.session_routes import LOGOUT_PATH, SESSION_PATH

    _component(key=key, data={"handoff": handoff, "logout": logout, "session_url": SESSION_PATH,
                              "logout_url": LOGOUT_PATH})
