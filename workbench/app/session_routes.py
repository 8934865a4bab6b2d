"""HTTP routes of the app server that set and clear the remembered-login cookie (HttpOnly).

A cookie set from page JavaScript cannot be HttpOnly, so the server sets it: after a login the
page hands the browser a one-time code (db/login_sessions.py), the browser posts it here and gets
`Set-Cookie: emojich_session=…; HttpOnly; SameSite=Strict; Path=/` (Secure behind HTTPS). The
cookie is a session cookie (it ends with the browser session; the server keeps the login 12 h at
most). Served by the Starlette app that `workbench/app/server.py` builds around the Streamlit app.
"""
from __future__ import annotations

from functools import cache
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from db.engine import make_engine, write_session
from db.home import resolve_db_url
from db.login_sessions import claim_handoff, end_session_by_cookie

COOKIE_NAME = "emojich_session"
SESSION_PATH = "/api/emojich/session"
LOGOUT_PATH = "/api/emojich/logout"
_MAX_BODY = 256


@cache
def _engine():
    return make_engine(resolve_db_url())


def _same_origin(request: Request) -> bool:
    """Browsers send Origin on POST; another site's page must not drive these routes."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("x-forwarded-host") or request.headers.get("host", "")
    return urlsplit(origin).netloc == host


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


def _claim(code: str) -> str | None:
    with write_session(_engine()) as session:
        return claim_handoff(session, code)


def _forget(session_id: str | None) -> None:
    with write_session(_engine()) as session:
        end_session_by_cookie(session, session_id)


async def set_session_cookie(request: Request) -> Response:
    if not _same_origin(request):
        return JSONResponse({"error": "cross-origin request refused"}, status_code=403)
    body = await request.body()
    if len(body) > _MAX_BODY:
        return JSONResponse({"error": "not a login code"}, status_code=400)
    session_id = await run_in_threadpool(_claim, body.decode("ascii", "replace").strip())
    if session_id is None:
        return JSONResponse({"error": "unknown, used or expired login code"}, status_code=410)
    response = Response(status_code=204)
    response.set_cookie(COOKIE_NAME, session_id, path="/", httponly=True, samesite="strict", secure=_secure(request))
    response.headers["Cache-Control"] = "no-store"
    return response


async def clear_session_cookie(request: Request) -> Response:
    if not _same_origin(request):
        return JSONResponse({"error": "cross-origin request refused"}, status_code=403)
    await run_in_threadpool(_forget, request.cookies.get(COOKIE_NAME))
    response = Response(status_code=204)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict", secure=_secure(request))
    return response


def routes() -> list[Route]:
    return [
        Route(SESSION_PATH, set_session_cookie, methods=["POST"]),
        Route(LOGOUT_PATH, clear_session_cookie, methods=["POST"]),
    ]
