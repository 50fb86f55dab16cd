"""HTTP compression of the SQL interface: responses (``enable_http_compression=1`` with
``Accept-Encoding``) and request bodies (``Content-Encoding``), as ClickHouse does it.

Compression runs on the query's worker thread, never on the event loop. ClickHouse
picks the first method it supports in its own order of preference
(chooseHTTPCompressionMethod: zstd, br, lz4, ..., gzip, deflate); here: zstd, lz4,
gzip, deflate, as far as the modules are installed (zstd and lz4 come with
clickhouse-connect).
"""

from __future__ import annotations

import zlib
from typing import Protocol

try:  # Python 3.14+, else the backport clickhouse-connect depends on
    from compression import zstd  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the Python version
    try:
        from backports import zstd  # type: ignore[no-redef]
    except ImportError:
        zstd = None  # type: ignore[assignment]

try:
    import lz4.frame as lz4_frame
except ImportError:  # pragma: no cover - lz4 comes with clickhouse-connect
    lz4_frame = None  # type: ignore[assignment]


class Encoder(Protocol):
    def compress(self, data: bytes) -> bytes: ...
    def flush(self) -> bytes: ...


class _Identity:
    def compress(self, data: bytes) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""


class _Lz4:
    def __init__(self) -> None:
        self._compressor = lz4_frame.LZ4FrameCompressor()
        self._started = False

    def compress(self, data: bytes) -> bytes:
        head = b"" if self._started else self._compressor.begin()
        self._started = True
        return head + self._compressor.compress(data)

    def flush(self) -> bytes:
        head = b"" if self._started else self._compressor.begin()
        self._started = True
        return head + self._compressor.flush()


def _available() -> list[str]:
    methods = []
    if zstd is not None:
        methods.append("zstd")
    if lz4_frame is not None:
        methods.append("lz4")
    return [*methods, "gzip", "deflate"]


AVAILABLE = tuple(_available())


def choose(accept_encoding: str) -> str | None:
    """The response encoding for an Accept-Encoding header, or None."""
    offered = {item.split(";")[0].strip().lower() for item in accept_encoding.split(",")}
    return next((method for method in AVAILABLE if method in offered), None)


def encoder(method: str | None, level: int | None = None) -> Encoder:
    """A streaming compressor for ``method`` (None: no compression)."""
    if method is None:
        return _Identity()
    if method == "gzip":
        return zlib.compressobj(3 if level is None else level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    if method == "deflate":  # HTTP's "deflate" is the zlib format
        return zlib.compressobj(3 if level is None else level, zlib.DEFLATED, zlib.MAX_WBITS)
    if method == "zstd":
        compressor = zstd.ZstdCompressor()
        return _ZstdStream(compressor)
    if method == "lz4":
        return _Lz4()
    raise ValueError(f"unsupported encoding {method!r}")


class _ZstdStream:
    def __init__(self, compressor) -> None:
        self._compressor = compressor

    def compress(self, data: bytes) -> bytes:
        return self._compressor.compress(data)

    def flush(self) -> bytes:
        return self._compressor.flush()


def decode_body(body: bytes, content_encoding: str, limit: int) -> bytes:
    """The request body without its Content-Encoding; at most ``limit`` bytes
    (OverflowError beyond it; ValueError for an encoding this server does not read).
    Clients stream compressed bodies as several concatenated frames (gzip members, lz4
    or zstd frames): all of them are read."""
    method = content_encoding.strip().lower()
    if method in ("", "identity"):
        return body
    if method in ("gzip", "x-gzip"):
        new = lambda: zlib.decompressobj(16 + zlib.MAX_WBITS)  # noqa: E731
    elif method == "deflate":
        new = zlib.decompressobj
    elif method == "zstd" and zstd is not None:
        new = zstd.ZstdDecompressor
    elif method == "lz4" and lz4_frame is not None:
        new = lz4_frame.LZ4FrameDecompressor
    else:
        raise ValueError(f"unsupported Content-Encoding {content_encoding!r}")
    out, size, rest = [], 0, body
    while rest:
        decompressor = new()
        data = decompressor.decompress(rest, limit - size + 1)
        size += len(data)
        if size > limit:
            raise OverflowError(f"the request body is larger than {limit} bytes decompressed")
        out.append(data)
        rest = decompressor.unused_data
        if not rest and not getattr(decompressor, "eof", True):
            raise ValueError("the compressed request body is truncated")
    return b"".join(out)
