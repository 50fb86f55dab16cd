"""The ASGI app: the Messages API surface plus an admin surface for tests and tools.

API (the paths the SDKs and Claude Code call; ``?beta=true`` and ``anthropic-beta``
headers are accepted everywhere and change nothing):

- ``POST /v1/messages`` (JSON, or SSE with ``"stream": true``)
- ``POST /v1/messages/count_tokens``
- ``POST|GET /v1/messages/batches``, ``GET|DELETE /v1/messages/batches/{id}``,
  ``POST /v1/messages/batches/{id}/cancel``, ``GET /v1/messages/batches/{id}/results``
- ``GET /v1/models``, ``GET /v1/models/{id}``

Every response carries a ``request-id`` header; errors use the API's envelope.
Requests need an API key (``x-api-key`` or ``Authorization: Bearer``) and an
``anthropic-version`` header, as on the real API.

Test controls, per request headers:
``x-emulator-fault: <spec>`` (see ``faults.py``) and ``x-emulator-gate: <name>/<n>``:
hold the response until ``n`` requests with the same gate name have arrived, so
"parallel" requests really are in flight together (cache rule 6) without timing.

Admin (``/_emulator/...``): ``GET requests``, ``GET cache``, ``GET|POST clock``
(``{"advance": s}``, ``{"set": ts}``, ``{"freeze": bool}``), ``GET|POST|DELETE faults``
(``{"spec": "429", "times": 1}``), ``POST scenario`` (a scenario dict),
``POST batches/process``, ``POST reset``, ``GET health``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from . import faults as faults_mod
from .emulator import Emulator, RequestRecord, new_id
from .errors import APIError, invalid
from .models import all_models, find_model, paginate
from .scenario import Scenario
from .streaming import events, sse

GATE_HEADER = "x-emulator-gate"
GATE_TIMEOUT = 30.0
"""A gate that never fills fails its requests instead of hanging them (real seconds)."""


class StreamCut(Exception):
    """Raised inside a response body to drop the connection (the ``cut`` fault)."""


class _QuietCuts(logging.Filter):
    """Injected cuts are intended: keep them out of the server's error log."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, StreamCut)


_server_log = logging.getLogger("uvicorn.error")
if not any(isinstance(f, _QuietCuts) for f in _server_log.filters):
    _server_log.addFilter(_QuietCuts())


class Gates:
    """Named rendezvous points: hold responses until n requests have arrived."""

    def __init__(self) -> None:
        self._gates: dict[str, tuple[int, asyncio.Event]] = {}

    async def wait(self, spec: str) -> None:
        name, _, count = spec.rpartition("/")
        if not name or not count.isdigit():
            raise invalid(f"{GATE_HEADER}: expected '<name>/<count>', got {spec!r}")
        arrived, event = self._gates.get(name, (0, asyncio.Event()))
        arrived += 1
        self._gates[name] = (arrived, event)
        if arrived >= int(count):
            event.set()
            self._gates.pop(name, None)
        try:
            await asyncio.wait_for(event.wait(), GATE_TIMEOUT)
        except asyncio.TimeoutError:
            self._gates.pop(name, None)
            raise invalid(f"{GATE_HEADER}: only {arrived} of {count} requests reached gate "
                          f"{name!r} within {GATE_TIMEOUT:.0f} s") from None


def create_app(emulator: Emulator | None = None) -> Starlette:
    """The ASGI app serving ``emulator`` (a fresh default ``Emulator`` when None)."""
    emu = emulator if emulator is not None else Emulator()
    gates = Gates()

    def begin(request: Request) -> RequestRecord:
        headers = {k.lower(): v for k, v in request.headers.items()}
        return emu.record(RequestRecord(
            request_id=new_id("req"), time=emu.clock.now(), method=request.method,
            path=request.url.path, headers=emu.redact(headers)))

    def finish(rec: RequestRecord, response: Response) -> Response:
        rec.status = response.status_code
        response.headers["request-id"] = rec.request_id
        return response

    def error(rec: RequestRecord, err: APIError) -> Response:
        rec.error = {"type": err.error_type, "message": err.message}
        return finish(rec, JSONResponse(err.body(rec.request_id), status_code=err.status,
                                        headers=err.headers))

    async def read_json(request: Request) -> Any:
        raw = await request.body()
        try:
            return json.loads(raw or b"null")
        except ValueError as exc:
            raise invalid(f"There was an error parsing the body: {exc}") from None

    def headers_of(request: Request) -> dict[str, str]:
        return {k.lower(): v for k, v in request.headers.items()}

    async def messages(request: Request) -> Response:
        rec = begin(request)
        try:
            headers = headers_of(request)
            workspace = emu.authenticate(headers)
            rec.workspace = workspace
            fault = emu.faults.take(headers.get(faults_mod.HEADER))
            rec.fault = fault.spec if fault else None
            body = await read_json(request)
            rec.body = body
            if isinstance(body, dict):
                rec.model = body.get("model") if isinstance(body.get("model"), str) else None
                rec.stream = body.get("stream") is True
            if fault and fault.error:
                raise fault.error
            prepared = emu.prepare(body, workspace, betas=emu.betas(headers))
            if headers.get(GATE_HEADER):
                await gates.wait(headers[GATE_HEADER])
            if fault and fault.slow_seconds:
                await asyncio.sleep(fault.slow_seconds)
            emu.start(prepared)
        except APIError as err:
            return error(rec, err)
        except ValueError as err:  # a malformed fault spec
            return error(rec, invalid(str(err)))
        message = prepared.message
        rec.message_id = message["id"]
        rec.usage = message["usage"]
        rec.cache = prepared.lookup.as_dict()
        rec.stop_reason = message["stop_reason"]
        rec.content_types = [b["type"] for b in message["content"]]
        if rec.stream:
            return finish(rec, StreamingResponse(
                _stream(message, fault, rec.request_id), media_type="text/event-stream",
                headers={"cache-control": "no-cache"}))
        if fault and fault.cut_after is not None:
            return finish(rec, StreamingResponse(_cut_json(message),
                                                 media_type="application/json"))
        return finish(rec, JSONResponse(message))

    async def count_tokens(request: Request) -> Response:
        rec = begin(request)
        try:
            headers = headers_of(request)
            rec.workspace = emu.authenticate(headers)
            fault = emu.faults.take(headers.get(faults_mod.HEADER))
            if fault and fault.error:
                raise fault.error
            body = await read_json(request)
            rec.body = body
            if isinstance(body, dict) and isinstance(body.get("model"), str):
                rec.model = body["model"]
            result = emu.count_tokens(body, emu.betas(headers))
        except APIError as err:
            return error(rec, err)
        rec.usage = result
        return finish(rec, JSONResponse(result))

    def base_url(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    async def batches(request: Request) -> Response:
        rec = begin(request)
        try:
            workspace = emu.authenticate(headers_of(request))
            rec.workspace = workspace
            batch_id = request.path_params.get("batch_id")
            action = request.path_params.get("action")
            if request.method == "POST" and batch_id is None:
                fault = emu.faults.take(request.headers.get(faults_mod.HEADER))
                if fault and fault.error:
                    raise fault.error
                body = await read_json(request)
                rec.body = body
                return finish(rec, JSONResponse(emu.batches.create(body, workspace,
                                                                   base_url(request))))
            if batch_id is None:
                q = request.query_params
                page = paginate(emu.batches.list(workspace), limit=int(q.get("limit", 20)),
                                after_id=q.get("after_id"), before_id=q.get("before_id"))
                return finish(rec, JSONResponse(page))
            if action == "cancel" and request.method == "POST":
                return finish(rec, JSONResponse(emu.batches.cancel(batch_id, workspace)))
            if action == "results" and request.method == "GET":
                text = emu.batches.results_jsonl(batch_id, workspace)
                return finish(rec, Response(text, media_type="application/x-jsonl"))
            if action is None and request.method == "DELETE":
                return finish(rec, JSONResponse(emu.batches.delete(batch_id, workspace)))
            if action is None and request.method == "GET":
                return finish(rec, JSONResponse(emu.batches.retrieve(batch_id, workspace)))
            raise APIError(f"Not found: {request.method} {request.url.path}", "not_found_error")
        except APIError as err:
            return error(rec, err)

    async def models(request: Request) -> Response:
        rec = begin(request)
        try:
            emu.authenticate(headers_of(request))
            model_id = request.path_params.get("model_id")
            if model_id:
                info = find_model(model_id)
                if info is None:
                    raise APIError(f"model: {model_id}", "not_found_error")
                return finish(rec, JSONResponse(info))
            q = request.query_params
            return finish(rec, JSONResponse(paginate(
                all_models(), limit=int(q.get("limit", 20)), after_id=q.get("after_id"),
                before_id=q.get("before_id"))))
        except APIError as err:
            return error(rec, err)

    # ----- admin --------------------------------------------------------------------

    async def admin(request: Request) -> Response:
        what = request.path_params["what"]
        method = request.method
        body = await request.json() if method == "POST" and await request.body() else {}
        if what == "health":
            return JSONResponse({"ok": True})
        if what == "requests":
            path = request.query_params.get("path")
            recs = [r.as_dict() for r in emu.requests if path is None or r.path == path]
            if request.query_params.get("bodies") == "0":
                for r in recs:
                    r.pop("body", None)
            return JSONResponse(recs)
        if what == "cache":
            return JSONResponse(emu.cache.entries(emu.clock.now()))
        if what == "clock":
            if method == "POST":
                if "set" in body:
                    emu.clock.set(float(body["set"]))
                if "advance" in body:
                    emu.clock.advance(float(body["advance"]))
                if body.get("freeze") is True:
                    emu.clock.freeze()
                elif body.get("freeze") is False:
                    emu.clock.unfreeze()
            return JSONResponse({"now": emu.clock.now(), "frozen": emu.clock.frozen})
        if what == "faults":
            if method == "POST":
                try:
                    emu.faults.inject(body["spec"], body.get("times", 1))
                except (KeyError, ValueError) as exc:
                    return JSONResponse({"error": str(exc)}, status_code=400)
            elif method == "DELETE":
                emu.faults.clear()
            return JSONResponse(emu.faults.pending())
        if what == "scenario" and method == "POST":
            emu.scenario = Scenario.from_dict(body)
            return JSONResponse({"ok": True})
        if what == "batches/process" and method == "POST":
            emu.batches.process_pending()
            return JSONResponse({"ok": True})
        if what == "reset" and method == "POST":
            emu.reset()
            return JSONResponse({"ok": True})
        return JSONResponse({"error": f"unknown admin call {method} {what}"}, status_code=404)

    async def not_found(request: Request, exc: Exception) -> Response:
        rec = begin(request)
        status = getattr(exc, "status_code", 404)
        kind = "not_found_error" if status == 404 else "invalid_request_error"
        return error(rec, APIError(f"Not found: {request.method} {request.url.path}", kind,
                                   status=status))

    routes = [
        Route("/v1/messages", messages, methods=["POST"]),
        Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
        Route("/v1/messages/batches", batches, methods=["GET", "POST"]),
        Route("/v1/messages/batches/{batch_id}", batches, methods=["GET", "DELETE"]),
        Route("/v1/messages/batches/{batch_id}/{action}", batches, methods=["GET", "POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/models/{model_id:path}", models, methods=["GET"]),
        Route("/_emulator/{what:path}", admin, methods=["GET", "POST", "DELETE"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: not_found})
    app.state.emulator = emu
    return app


async def _stream(message: dict[str, Any], fault: Any, request_id: str):
    for n, (name, data) in enumerate(events(message)):
        if fault is not None and fault.sse_error_after == n:
            yield sse("error", {"type": "error", "request_id": request_id,
                                "error": {"type": "overloaded_error", "message": "Overloaded"}})
            return
        if fault is not None and fault.cut_after == n:
            raise StreamCut(f"stream cut after {n} events (x-emulator-fault)")
        yield sse(name, data)
        await asyncio.sleep(0)


async def _cut_json(message: dict[str, Any]):
    raw = json.dumps(message).encode()
    yield raw[: len(raw) // 2]
    raise StreamCut("body cut half-way (x-emulator-fault)")
