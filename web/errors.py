"""Bad query parameters on a page: the same 422 as the JSON twin, as a page a person can
read (what was wrong, and a link back), instead of a JSON body in the browser.

The ``/api/`` paths keep FastAPI's JSON shape; every other status goes to FastAPI's own
handlers unchanged (the run and call pages render their own 404s).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from tokentrail.web.dependencies import templates


def _is_page(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and request.url.path != "/healthz"


def _problems(errors: object) -> list[str]:
    """``loc: msg`` lines of a validation error list (or the detail text)."""
    if not isinstance(errors, list):
        return [str(errors)]
    lines = []
    for error in errors:
        if isinstance(error, dict):
            where = [str(p) for p in error.get("loc", ()) if p not in ("query", "path")]
            lines.append(f"{'.'.join(where)}: {error.get('msg', '')}" if where
                         else str(error.get("msg", "")))
        else:
            lines.append(str(error))
    return lines


def _page(request: Request, problems: list[str]) -> Response:
    return templates.TemplateResponse(request, "invalid.html", {"problems": problems},
                                      status_code=422)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        if _is_page(request):
            return _page(request, _problems(exc.errors()))
        return await request_validation_exception_handler(request, exc)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 422 and _is_page(request):
            return _page(request, _problems(exc.detail))
        return await http_exception_handler(request, exc)
