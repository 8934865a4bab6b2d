"""The app server `emojich workbench` runs: the Streamlit app (app.py) plus the routes that set
the HttpOnly login cookie (session_routes.py), as one Starlette/uvicorn app (`st.App`).

`streamlit run workbench/app/server.py` serves it; so does any ASGI server
(`uvicorn workbench.app.server:app`), one process per replica behind a load balancer.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from workbench.app.session_routes import routes

app = st.App(Path(__file__).with_name("app.py"), routes=routes())
