"""Sets or clears the remembered-login cookie in the browser (workbench/app/remembered_login.py).

A session cookie: no Expires/Max-Age, so it ends with the browser session; SameSite=Strict, path=/.
The v2 component's script runs in the app page itself, so `document.cookie` is the app's cookie jar.
"""
from __future__ import annotations

import streamlit as st

_JS = """
export default function (component) {
  const { data } = component;
  const name = data.name;
  const present = document.cookie.split("; ").some((c) => c.startsWith(name + "="));
  if (data.value) {
    document.cookie = name + "=" + data.value + "; path=/; SameSite=Strict";
  } else if (present) {
    document.cookie = name + "=; path=/; SameSite=Strict; Max-Age=0";
  }
}
"""

_component = st.components.v2.component("emojich.session_cookie", html="", js=_JS)


def session_cookie(name: str, value: str | None, key: str) -> None:
    """Keep cookie `name` set to `value` (a cookie-safe string), or cleared when value is None."""
    _component(key=key, data={"name": name, "value": value})
