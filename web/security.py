"""Optional token protection of the UI (required when it binds beyond loopback).

A browser presents the token once as ``?token=...``; it is then kept in an
HTTP-only cookie. Scripts send ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import secrets

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

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
        return PlainTextResponse(
            "tokentrail: this UI needs its token (open it with ?token=... once, "
            "or send Authorization: Bearer ...)",
            status_code=401,
        )
