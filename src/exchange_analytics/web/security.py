"""The dashboard's guard, as one ASGI middleware around the whole app.

* Security headers on every answer: a CSP that allows scripts and styles from this origin only
  (no inline script anywhere), ``nosniff``, frame denial (header and ``frame-ancestors``),
  no referrer leaving the site.
* GET and HEAD only: anything else is 405, except the login form's POST when a token is set.
* With ``DASHBOARD_TOKEN``, every request must carry it: ``Authorization: Bearer TOKEN``, or
  the cookie the login form sets (HttpOnly, SameSite=Strict). The cookie holds an HMAC of the
  token, not the token, and both are compared with ``hmac.compare_digest``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "ea_dashboard"
LOGIN_PATH = "/login"
#: Reachable without the token: the login form and the stylesheet it uses.
PUBLIC_PATHS = frozenset({LOGIN_PATH, "/static/dashboard.css"})
MAX_LOGIN_BODY = 4096
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
#: Pages and data are never cached (they change every 5 minutes and may be token-protected);
#: the static files are, by ETag (a chart library of 160 KB need not travel with every page).
NO_STORE = (b"cache-control", b"no-store")


def session_value(token: str) -> str:
    """What the cookie holds: derived from the token, useless as a bearer token itself."""
    return hmac.new(token.encode(), b"exchange-analytics dashboard session", "sha256").hexdigest()


def token_matches(token: str, headers: dict[bytes, bytes]) -> bool:
    """Bearer header or session cookie, each compared in constant time."""
    auth = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, given = auth.partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(
        hashlib.sha256(given.strip().encode()).digest(), hashlib.sha256(token.encode()).digest()
    ):
        return True
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get(b"cookie", b"").decode("latin-1"))
    except Exception:  # a malformed Cookie header is simply "no session"
        return False
    morsel = cookie.get(COOKIE)
    return morsel is not None and hmac.compare_digest(
        morsel.value.encode(), session_value(token).encode()
    )


class Guard:
    """Headers, method check and token check, before any route runs."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                wanted = HEADERS if scope["path"].startswith("/static/") else [*HEADERS, NO_STORE]
                extra = [(k, v) for k, v in wanted if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        method, path = scope["method"], scope["path"]
        headers = dict(scope.get("headers") or [])
        is_login_post = self.token is not None and path == LOGIN_PATH and method == "POST"
        if method not in ("GET", "HEAD") and not is_login_post:
            await _not_allowed(send_with_headers, method)
            return
        if is_login_post:
            await self._login(receive, send_with_headers, scope)
            return
        needs_token = self.token is not None and path not in PUBLIC_PATHS
        if needs_token and not token_matches(self.token or "", headers):
            await _unauthorized(send_with_headers, path)
            return
        await self.app(scope, receive, send_with_headers)

    async def _login(self, receive: Receive, send: Send, scope: Scope) -> None:
        token = self.token or ""
        body = b""
        more = True
        while more and len(body) <= MAX_LOGIN_BODY:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        given = parse_qs(body[:MAX_LOGIN_BODY].decode("utf-8", "replace")).get("token", [""])[0]
        if not hmac.compare_digest(
            hashlib.sha256(given.encode()).digest(), hashlib.sha256(token.encode()).digest()
        ):
            await _redirect(send, f"{LOGIN_PATH}?failed=1", [])
            return
        secure = "; Secure" if scope.get("scheme") == "https" else ""
        cookie = f"{COOKIE}={session_value(token)}; HttpOnly; SameSite=Strict; Path=/{secure}"
        await _redirect(send, "/", [(b"set-cookie", cookie.encode())])


async def _not_allowed(send: Send, method: str) -> None:
    body = f"{method} is not allowed: the dashboard only reads (GET)\n".encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"allow", b"GET, HEAD"),
    ]
    await send({"type": "http.response.start", "status": 405, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _unauthorized(send: Send, path: str) -> None:
    """JSON 401 for the API; a redirect to the login form for pages."""
    if path.startswith("/api/"):
        body = json.dumps(
            {"error": "a dashboard token is required (Authorization: Bearer TOKEN)"}
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", b"Bearer"),
        ]
        await send({"type": "http.response.start", "status": 401, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    await _redirect(send, LOGIN_PATH, [])


async def _redirect(send: Send, location: str, extra: list[tuple[bytes, bytes]]) -> None:
    headers = [(b"location", location.encode()), (b"content-length", b"0"), *extra]
    await send({"type": "http.response.start", "status": 303, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
