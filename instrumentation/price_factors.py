"""What a call's price depends on beyond its tokens (docs/facts.md §2), read in-process.

The store prices a call from its token buckets and these: the betas in use (a long-
context beta changes the rates), fast mode (``speed``), the inference region
(``inference_geo``), the service tier (``batch`` halves the price) and the server tools
it ran (web searches are billed per use). Each attribute is set only when the request
or the response says it; a value of another type sets nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .attributes import sc
from .fields import get

BETA_HEADER = "anthropic-beta"


def request_factors(options: Any, client: Any) -> dict[str, Any]:
    """``REQUEST_BETAS``, ``REQUEST_SPEED`` and ``REQUEST_INFERENCE_GEO`` of a request.

    ``options`` is the SDK's ``FinalRequestOptions``: the body (``json_data``), the
    ``extra_body`` (``extra_json``, which the SDK merges over the body when it builds the
    request) and the call's headers (``betas=`` of ``client.beta.messages.*`` and
    ``extra_headers``), which win over the client's ``default_headers``.
    """
    out: dict[str, Any] = {}
    body = getattr(options, "json_data", None)
    extra = getattr(options, "extra_json", None)
    for field, attribute in (("speed", sc.REQUEST_SPEED),
                             ("inference_geo", sc.REQUEST_INFERENCE_GEO)):
        value = _body_field(body, extra, field)
        if isinstance(value, str) and value:
            out[attribute] = value
    betas = _betas(getattr(options, "headers", None), getattr(client, "_custom_headers", None))
    if betas:
        out[sc.REQUEST_BETAS] = ",".join(betas)
    return out


def usage_factors(usage: Any) -> dict[str, Any]:
    """``ANTHROPIC_USAGE_SERVICE_TIER`` and the server tool counts of a usage object."""
    out: dict[str, Any] = {}
    tier = get(usage, "service_tier")
    if isinstance(tier, str):
        out[sc.ANTHROPIC_USAGE_SERVICE_TIER] = tier
    tools = get(usage, "server_tool_use")
    if tools is not None:
        for field, attribute in (("web_search_requests", sc.USAGE_WEB_SEARCH_REQUESTS),
                                 ("web_fetch_requests", sc.USAGE_WEB_FETCH_REQUESTS)):
            value = get(tools, field)
            if type(value) is int and value >= 0:
                out[attribute] = value
    return out


def _body_field(body: Any, extra: Any, field: str) -> Any:
    if isinstance(extra, Mapping) and field in extra:
        return extra[field]
    return body.get(field) if isinstance(body, Mapping) else None


def _header(headers: Any, name: str) -> tuple[bool, Any]:
    """(whether ``headers`` has ``name``, case-insensitively; its value)."""
    if isinstance(headers, Mapping):
        for key, value in headers.items():
            if isinstance(key, str) and key.lower() == name:
                return True, value
    return False, None


def _betas(call_headers: Any, client_headers: Any) -> list[str]:
    """The beta names the request sends: the call's header, else the client's default.
    A call header that is not a string (the SDK's ``Omit``) removes the default."""
    found, value = _header(call_headers, BETA_HEADER)
    if not found:
        found, value = _header(client_headers, BETA_HEADER)
    if not isinstance(value, str):
        return []
    names: list[str] = []
    for part in value.split(","):
        name = part.strip()
        if name and name not in names:
            names.append(name)
    return names
