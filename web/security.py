"""Optional token protection of the UI (required when it binds beyond loopback).

A browser presents the token once as ``?token=...``; it is then kept in an
HTTP-only cookie. Scripts send ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import secrets

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

COOKIE = "tokentrail_token"


class TokenMiddleware(BaseHTTPMiddleware):
    def __init__(self, app, token: str) -> None:
        super().__init__(app)
        self._token = token.encode()

    def _matches(self, candidate: str | None) -> bool:
        return bool(candidate) and secrets.compare_digest(candidate.encode(), self._token)

    async def dispatch(self, request: Request, call_next) -> Response:
        scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self._matches(bearer.strip()):
            return await call_next(request)
        if self._matches(request.cookies.get(COOKIE)):
            return await call_next(request)
        if self._matches(request.query_params.get("token")):
            target = request.url.remove_query_params("token")
            response = RedirectResponse(str(target), status_code=303)
            response.set_cookie(COOKIE, self._token.decode(), httponly=True, samesite="strict")
            return response
        if "text/html" in request.headers.get("accept", ""):  # a browser: a page
            return HTMLResponse(REFUSED_PAGE, status_code=401)
        return PlainTextResponse(REFUSED_TEXT, status_code=401)


REFUSED_TEXT = ("tokentrail: this UI needs its token (open it with ?token=... once, "
                "or send Authorization: Bearer ...)")

# What a browser shows without the token. Self-contained: the stylesheets are behind
# the token too. Nothing of the request is echoed (a wrong token stays unseen).
REFUSED_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Token needed \u00b7 tokentrail</title>
<style>body{font:15px/1.5 system-ui,sans-serif;color:#1d2330;background:#fafaf9;margin:0}
main{max-width:40rem;margin:4rem auto;padding:1.5rem 2rem;background:#fff;
border:1px solid #e5e7eb;border-radius:8px}h1{font-size:1.3rem;margin:0 0 .75rem}
code{background:#f3f4f6;padding:0 .25rem;border-radius:4px}</style></head>
<body><main id="token-needed">
<h1>This tokentrail UI needs its token</h1>
<p>Its operator set <code>TOKENTRAIL_UI_TOKEN</code>. Open this page once with the token
added to its address, <code>?token=&lt;the token&gt;</code>: the browser then keeps it in a
cookie and the address loses it.</p>
<p>Scripts send <code>Authorization: Bearer &lt;the token&gt;</code> instead.</p>
</main></body></html>
"""
