"""Seeded generator of hostile OTLP request bodies for the receivers' fuzz tests."""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass

from tests.otlp import anthropic_call_attrs, span, to_otlp_json, trace_request

PB = "application/x-protobuf"
JS = "application/json"


@dataclass(frozen=True)
class Case:
    kind: str
    content_type: str
    body: bytes
    encoding: str | None = None


def _valid(rng: random.Random, n: int = 3):
    return trace_request([
        span(anthropic_call_attrs(response_id=f"msg_fuzz_{rng.getrandbits(48):x}", uncached=1,
                                  read=2, write=3, output=4))
        for _ in range(n)
    ])


def _random_json(rng: random.Random, depth: int = 0):
    choice = rng.randrange(7 if depth < 4 else 4)
    if choice == 0:
        return rng.randrange(-10**12, 10**12)
    if choice == 1:
        return "".join(chr(rng.randrange(32, 0x2FF)) for _ in range(rng.randrange(12)))
    if choice == 2:
        return rng.choice([None, True, False, 1.5e308, -0.0])
    if choice == 3:
        return rng.choice(["resourceSpans", "scopeSpans", "spans", "traceId", "attributes"])
    if choice == 4:
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["resourceSpans", "scopeSpans", "spans", "traceId", "spanId", "attributes",
            "value", "intValue", "startTimeUnixNano", "kind", "name", "x"]
    return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randrange(5))}


def cases(seed: int, count: int) -> Iterator[Case]:
    rng = random.Random(seed)
    for _ in range(count):
        pick = rng.randrange(9)
        if pick == 0:
            yield Case("random-bytes", PB, rng.randbytes(rng.randrange(1, 4096)))
        elif pick == 1:
            body = _valid(rng).SerializeToString()
            yield Case("truncated-protobuf", PB, body[: rng.randrange(1, len(body))])
        elif pick == 2:
            body = bytearray(_valid(rng).SerializeToString())
            for _ in range(rng.randrange(1, 8)):
                body[rng.randrange(len(body))] = rng.randrange(256)
            yield Case("bit-flipped-protobuf", PB, bytes(body))
        elif pick == 3:
            yield Case("random-json", JS, json.dumps(_random_json(rng)).encode())
        elif pick == 4:
            body = to_otlp_json(_valid(rng))
            yield Case("truncated-json", JS, body[: rng.randrange(1, len(body))])
        elif pick == 5:
            yield Case("wrong-content-type", rng.choice(["text/plain", "", "application/xml",
                                                         "multipart/form-data"]),
                       _valid(rng).SerializeToString())
        elif pick == 6:
            yield Case("bad-gzip", PB, rng.randbytes(rng.randrange(1, 512)), "gzip")
        elif pick == 7:
            yield Case("gzip-bomb", PB, gzip.compress(b"\0" * (40 * 1024 * 1024)), "gzip")
        else:
            yield Case("valid", rng.choice([PB, JS]), b"")  # filled by the caller


def valid_body(content_type: str, seed: int) -> bytes:
    request = _valid(random.Random(seed))
    return request.SerializeToString() if content_type == PB else to_otlp_json(request)


def huge_attribute_request(size: int = 5 * 1024 * 1024):
    attrs = anthropic_call_attrs(response_id="msg_huge", uncached=1, read=0, write=0, output=1)
    attrs["big"] = "x" * size
    return trace_request([span(attrs)])


def many_attributes_request(count: int = 10_000):
    attrs = anthropic_call_attrs(response_id="msg_many", uncached=1, read=0, write=0, output=1)
    attrs.update({f"attr.{i}": i for i in range(count)})
    return trace_request([span(attrs)])
