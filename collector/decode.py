"""Decoding of OTLP/HTTP request bodies into protobuf messages.

Protobuf bodies go straight to the generated classes of ``opentelemetry-proto``.
JSON bodies go through protobuf's own ``json_format`` too, with one fix first:
OTLP/JSON writes trace and span ids as **hex**, while ``json_format`` would read
``bytes`` fields as base64 and silently corrupt them (OTLP spec, "JSON Protobuf
Encoding"; docs/facts.md §6). So ids are rewritten hex -> base64 before parsing.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import DecodeError as ProtobufDecodeError
from google.protobuf.message import Message

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_PROTOBUF_ALIASES = {PROTOBUF, "application/protobuf", "application/vnd.google.protobuf"}

# Every bytes field in the OTLP messages that JSON encodes as hex, by JSON name
# and by proto field name (json_format accepts both spellings).
_HEX_ID_FIELDS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id",
                            "parent_span_id"})

M = TypeVar("M", bound=Message)


class DecodeError(ValueError):
    """The body is not a valid OTLP request; the message is the reason for the client."""


class UnsupportedMediaType(DecodeError):
    """Neither protobuf nor JSON."""


class BodyTooLarge(ValueError):
    """The body (or what it inflates to) exceeds the configured limit."""


def media_type(content_type: str | None) -> str:
    """``application/json; charset=utf-8`` -> ``application/json``; protobuf aliases folded."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind in _PROTOBUF_ALIASES:
        return PROTOBUF
    if kind == JSON:
        return JSON
    raise UnsupportedMediaType(
        f"unsupported Content-Type {content_type!r}: send {PROTOBUF} or {JSON}"
    )


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo ``Content-Encoding`` (gzip, deflate or none), never inflating past ``limit``.

    Inflating with a bound is what stops a gzip bomb: the output is cut at
    ``limit + 1`` bytes and then rejected.
    """
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif encoding == "deflate":
        wbits = zlib.MAX_WBITS
    else:
        raise DecodeError(f"unsupported Content-Encoding {encoding!r}: use gzip or none")
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise DecodeError(f"body is not valid {encoding}: {exc}") from None
    if len(out) > limit:
        raise BodyTooLarge(f"decompressed body exceeds the limit of {limit} bytes")
    if not inflater.eof:
        raise DecodeError(f"{encoding} body is truncated")
    return out


def parse(body: bytes, kind: str, message_cls: type[M]) -> M:
    """Parse a (decompressed) body of media type ``kind`` into ``message_cls``."""
    message = message_cls()
    if kind == PROTOBUF:
        try:
            message.ParseFromString(body)
        except (ProtobufDecodeError, RuntimeError, ValueError) as exc:
            raise DecodeError(f"body is not a valid protobuf {message_cls.__name__}: {exc}") \
                from None
        return message
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise DecodeError(f"body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise DecodeError("OTLP/JSON body must be a JSON object")
    try:
        json_format.ParseDict(_hex_ids_to_base64(document), message, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise DecodeError(f"body is not a valid OTLP/JSON {message_cls.__name__}: {exc}") \
            from None
    except RecursionError:
        raise DecodeError("OTLP/JSON body is nested too deeply") from None
    return message


def _hex_ids_to_base64(node: Any) -> Any:
    """Rewrite hex id fields in place to the base64 that json_format expects."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key in _HEX_ID_FIELDS and isinstance(value, str):
                    item[key] = _hex_to_base64(key, value)
                elif isinstance(value, (dict, list)):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, (dict, list)))
    return node


def _hex_to_base64(field: str, value: str) -> str:
    if not value:
        return value
    try:
        raw = binascii.unhexlify(value)
    except (binascii.Error, ValueError):
        raise DecodeError(f"{field} {value[:40]!r} is not hex (OTLP/JSON ids are hex)") from None
    return base64.b64encode(raw).decode("ascii")
