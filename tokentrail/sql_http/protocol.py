"""ClickHouse's HTTP interface as clients speak it: the request, the errors, the headers.

Read from ClickHouse's documentation ("HTTP interface") and its server source
(``src/Server/HTTPHandler.cpp``, ``src/Server/HTTP/exceptionCodeToHTTPStatus.cpp``),
and checked against what clickhouse-connect sends and parses:

* the query is the ``query`` URL parameter, a newline and the request body (either may
  be empty), or the ``query`` field of a ``multipart/form-data`` body;
* ``database`` / ``default_format`` (or the ``X-ClickHouse-Database`` /
  ``X-ClickHouse-Format`` request headers), ``param_<name>`` query parameters for
  ``{name:Type}`` placeholders, and the reserved transport parameters below; **every
  other URL parameter is a setting**;
* an error answers ``Code: N. DB::Exception: <message> (NAME) (version V)`` plus a
  newline, with ``X-ClickHouse-Exception-Code: N`` and the HTTP status ClickHouse maps
  the error to; an error after the body started (status 200 already sent) is written
  into the body between ``__exception__`` markers carrying the response's
  ``X-ClickHouse-Exception-Tag`` (ClickHouse 25.11+, what clickhouse-connect scans for).

Nothing here touches the engine: this module turns HTTP into a :class:`SqlRequest` and
errors into responses.
"""

from __future__ import annotations

import json
import re
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import HTTP

# ClickHouse's ErrorCodes (src/Common/ErrorCodes.cpp) that tokentrail raises itself; a
# test checks them against the engine's own errorCodeToName().
SYNTAX_ERROR = 62
NOT_IMPLEMENTED = 48
READONLY = 164
TOO_MANY_SIMULTANEOUS_QUERIES = 202
QUERY_IS_TOO_LARGE = 229
INTO_OUTFILE_NOT_ALLOWED = 358
ACCESS_DENIED = 497
AUTHENTICATION_FAILED = 516
UNKNOWN_EXCEPTION = 1002

OWN_ERROR_NAMES = {
    SYNTAX_ERROR: "SYNTAX_ERROR", NOT_IMPLEMENTED: "NOT_IMPLEMENTED", READONLY: "READONLY",
    TOO_MANY_SIMULTANEOUS_QUERIES: "TOO_MANY_SIMULTANEOUS_QUERIES",
    QUERY_IS_TOO_LARGE: "QUERY_IS_TOO_LARGE", INTO_OUTFILE_NOT_ALLOWED: "INTO_OUTFILE_NOT_ALLOWED",
    ACCESS_DENIED: "ACCESS_DENIED", AUTHENTICATION_FAILED: "AUTHENTICATION_FAILED",
    UNKNOWN_EXCEPTION: "UNKNOWN_EXCEPTION",
}

# exceptionCodeToHTTPStatus.cpp, by error name; everything else is 500.
_STATUS_BY_NAME: dict[str, int] = {
    "REQUIRED_PASSWORD": 401,
    **dict.fromkeys(("UNKNOWN_USER", "WRONG_PASSWORD", "AUTHENTICATION_FAILED",
                     "SET_NON_GRANTED_ROLE", "ACCESS_DENIED"), 403),
    **dict.fromkeys((
        "BAD_ARGUMENTS", "CANNOT_COMPILE_REGEXP", "CANNOT_PARSE_TEXT",
        "CANNOT_PARSE_ESCAPE_SEQUENCE", "CANNOT_PARSE_QUOTED_STRING", "CANNOT_PARSE_DATE",
        "CANNOT_PARSE_DATETIME", "CANNOT_PARSE_NUMBER", "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING",
        "CANNOT_PARSE_IPV4", "CANNOT_PARSE_IPV6", "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
        "CANNOT_PARSE_UUID", "DUPLICATE_COLUMN", "ILLEGAL_COLUMN", "UNKNOWN_ELEMENT_IN_AST",
        "UNKNOWN_TYPE_OF_AST_NODE", "THERE_IS_NO_COLUMN", "TOO_DEEP_AST", "TOO_BIG_AST",
        "UNEXPECTED_AST_STRUCTURE", "SYNTAX_ERROR", "INCORRECT_DATA", "TYPE_MISMATCH",
        "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE"), 400),
    **dict.fromkeys((
        "UNKNOWN_TABLE", "UNKNOWN_FUNCTION", "UNKNOWN_IDENTIFIER", "UNKNOWN_TYPE",
        "UNKNOWN_STORAGE", "UNKNOWN_DATABASE", "UNKNOWN_SETTING",
        "UNKNOWN_DIRECTION_OF_SORTING", "UNKNOWN_AGGREGATE_FUNCTION", "UNKNOWN_FORMAT",
        "UNKNOWN_DATABASE_ENGINE", "UNKNOWN_TYPE_OF_QUERY", "UNKNOWN_ROLE"), 404),
    "QUERY_IS_TOO_LARGE": 413,
    "NOT_IMPLEMENTED": 501,
    "SOCKET_TIMEOUT": 503, "CANNOT_OPEN_FILE": 503, "CANNOT_SCHEDULE_TASK": 503,
    "HTTP_LENGTH_REQUIRED": 411,
    "TIMEOUT_EXCEEDED": 408,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    # ClickHouse answers 500 here; 503 with Retry-After is what HTTP clients retry
    # (clickhouse-connect retries 429/503/504), and the query never started.
    "TOO_MANY_SIMULTANEOUS_QUERIES": 503,
}


def http_status(error_name: str) -> int:
    return _STATUS_BY_NAME.get(error_name, 500)


class ClickHouseError(Exception):
    """An error to answer in ClickHouse's shape. ``message`` is the whole
    ``Code: N. DB::Exception: ... (NAME)`` text; the version trailer is added on
    the way out."""

    def __init__(self, code: int, name: str, message: str, *,
                 retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.name = name
        self.message = message
        self.retry_after = retry_after

    @classmethod
    def own(cls, code: int, text: str, *, retry_after: int | None = None) -> ClickHouseError:
        """An error raised by tokentrail itself, worded as the server words its own."""
        name = OWN_ERROR_NAMES[code]
        return cls(code, name, f"Code: {code}. DB::Exception: {text}. ({name})",
                   retry_after=retry_after)

    @classmethod
    def from_engine(cls, code: int, message: str, names: Mapping[int, str]) -> ClickHouseError:
        """The engine's error as it raised it, cut after its ``(NAME)``: chDB repeats
        the trailer of a re-thrown exception (``... (NAME) (version V). (NAME)``)."""
        name = names.get(code, OWN_ERROR_NAMES[UNKNOWN_EXCEPTION])
        if not code:
            code = UNKNOWN_EXCEPTION
            message = f"Code: {code}. DB::Exception: {message}"
        marker = f"({name})"
        end = message.find(marker)
        if end >= 0:
            message = message[: end + len(marker)]
        return cls(code, name, message)

    @property
    def status(self) -> int:
        return http_status(self.name)

    def body(self, version: str) -> bytes:
        return f"{self.message} (version {version})\n".encode()


# Transport parameters of HTTPHandler (reserved_param_names) and the two it reads
# itself; none of them is a setting.
RESERVED_PARAMS = frozenset({
    "query", "database", "default_format", "compress", "decompress", "user", "password",
    "quota_key", "query_id", "stacktrace", "buffer_size", "wait_end_of_query", "session_id",
    "session_timeout", "session_check", "client_protocol_version", "close_session", "role",
})

# Real ClickHouse settings that only steer the HTTP layer; the handler reads them here
# and does not pass them to the engine.
HTTP_LAYER_SETTINGS = frozenset({
    "enable_http_compression", "http_zlib_compression_level", "send_progress_in_http_headers",
    "http_headers_progress_interval_ms", "cancel_http_readonly_queries_on_client_close",
    "http_response_buffer_size", "http_wait_end_of_query", "add_http_cors_header",
    "http_write_exception_in_output_format",
})

PARAM_PREFIX = "param_"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass
class Credentials:
    """What the client sent to authenticate, however it sent it."""

    user: str = "default"
    password: str = ""
    sent: bool = False  # any credentials at all


@dataclass
class SqlRequest:
    """One HTTP request to the SQL interface, in ClickHouse's terms."""

    query: bytes
    method: str
    url_query: bytes | None = None  # the query parameter, when a body follows it
    body: bytes = b""
    database: str | None = None
    default_format: str | None = None
    settings: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    query_id: str | None = None
    session_id: str | None = None
    wait_end_of_query: bool = False
    http_compression: bool = False
    compression_level: int | None = None
    native_compression: bool = False  # compress=1 / decompress=1
    credentials: Credentials = field(default_factory=Credentials)


def credentials(headers: Mapping[str, str], params: Mapping[str, str]) -> Credentials:
    """Credentials as HTTPHandler::authenticateUser reads them: the X-ClickHouse-User /
    X-ClickHouse-Key headers, else HTTP basic auth (or a bearer token), else the
    ``user``/``password`` parameters. Mixing schemes is an error, as in ClickHouse."""
    import base64

    header_user = headers.get("x-clickhouse-user", "")
    header_key = headers.get("x-clickhouse-key", "")
    authorization = headers.get("authorization", "")
    in_params = "user" in params or "password" in params
    if header_user or header_key:
        if authorization or in_params:
            raise ClickHouseError.own(AUTHENTICATION_FAILED, "Invalid authentication: it is "
                                      "not allowed to use X-ClickHouse HTTP headers and other "
                                      "authentication methods simultaneously")
        return Credentials(header_user or "default", header_key, True)
    if authorization:
        if in_params:
            raise ClickHouseError.own(AUTHENTICATION_FAILED, "Invalid authentication: it is "
                                      "not allowed to use Authorization HTTP header and "
                                      "authentication via parameters simultaneously")
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value.strip()).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise ClickHouseError.own(AUTHENTICATION_FAILED, "Invalid authentication: "
                                          "malformed Basic credentials") from None
            return Credentials(user or "default", password, True)
        if scheme.lower() == "bearer":
            return Credentials("default", value.strip(), True)
        raise ClickHouseError.own(AUTHENTICATION_FAILED, f"Invalid authentication: "
                                  f"'{scheme}' HTTP Authorization scheme is not supported")
    return Credentials(params.get("user") or "default", params.get("password", ""), in_params)


def parse_multipart(content_type: str, body: bytes) -> dict[str, str]:
    """The text fields of a ``multipart/form-data`` body (clickhouse-connect sends the
    query and long parameters this way). File parts are ClickHouse's "external data",
    which the embedded engine cannot take: refused."""
    message = message_from_bytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body, policy=HTTP)
    if not message.is_multipart():
        raise ClickHouseError.own(SYNTAX_ERROR, "Cannot parse the multipart/form-data body")
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if part.get_filename() is not None:
            raise ClickHouseError.own(NOT_IMPLEMENTED, "External data (file parts of a "
                                      "multipart/form-data request) is not supported by "
                                      "tokentrail's SQL interface")
        if name:
            payload = part.get_payload(decode=True) or b""
            fields[str(name)] = payload.decode("utf-8", "replace")
    return fields


def parse_request(method: str, headers: Mapping[str, str], params: list[tuple[str, str]],
                  body: bytes) -> SqlRequest:
    """A :class:`SqlRequest` from the URL parameters, headers and (already
    decompressed) body, following HTTPHandler::processQuery."""
    values = dict(params)
    content_type = headers.get("content-type", "")
    query_text = values.get("query", "")
    if content_type.lower().startswith("multipart/form-data"):
        fields = parse_multipart(content_type, body)
        values.update({k: v for k, v in fields.items() if k != "query"})
        params = [*params, *((k, v) for k, v in fields.items() if k != "query")]
        query = (query_text + fields.get("query", "")).encode()
    elif query_text:
        query = query_text.encode() + b"\n" + body
    else:
        query = body
    request = SqlRequest(
        query=query, method=method, body=body,
        url_query=query_text.encode() if query_text and body else None,
        database=headers.get("x-clickhouse-database") or values.get("database") or None,
        default_format=headers.get("x-clickhouse-format") or values.get("default_format") or None,
        query_id=values.get("query_id") or headers.get("x-clickhouse-query-id") or None,
        session_id=values.get("session_id") or None,
        wait_end_of_query=_truthy(values.get("wait_end_of_query")),
        native_compression=_truthy(values.get("compress")) or _truthy(values.get("decompress")),
        credentials=credentials(headers, values),
    )
    for key, value in params:
        if not key or key in RESERVED_PARAMS:
            continue
        if key.startswith(PARAM_PREFIX):
            request.params.setdefault(key[len(PARAM_PREFIX):], value)
        elif key == "enable_http_compression":
            request.http_compression = _truthy(value)
        elif key == "http_zlib_compression_level":
            try:
                request.compression_level = int(value)
            except ValueError:
                raise ClickHouseError.own(SYNTAX_ERROR, f"Cannot parse "
                                          f"http_zlib_compression_level '{value}'") from None
        elif key == "http_wait_end_of_query":
            request.wait_end_of_query = request.wait_end_of_query or _truthy(value)
        elif key not in HTTP_LAYER_SETTINGS:
            request.settings[key] = value
    return request


# --- output formats ---------------------------------------------------------------

# Formats whose output is one self-contained piece per block (no header, footer or
# separator between blocks), so that the engine's streamed parts concatenate into the
# format's output. Anything else is produced whole.
STREAMABLE_FORMATS = frozenset({
    "Native", "TabSeparated", "TSV", "TabSeparatedRaw", "TSVRaw", "CSV", "RowBinary",
    "JSONEachRow", "JSONLines", "NDJSON", "JSONCompactEachRow", "JSONStringsEachRow",
    "JSONCompactStringsEachRow", "Null",
})

_TRAILING_FORMAT = re.compile(r"\sFORMAT\s+`?([A-Za-z0-9_]+)`?(?:\s+SETTINGS\s.*)?\Z", re.S)


def format_clause(canonical_sql: str) -> str | None:
    """The FORMAT clause of a query as the engine formats it (formatQuerySingleLine
    puts FORMAT last, or just before SETTINGS), or None."""
    match = _TRAILING_FORMAT.search(canonical_sql)
    return match.group(1) if match else None


def content_type(fmt: str) -> str:
    """The Content-Type ClickHouse's output formats declare (IOutputFormat::getContentType)."""
    if fmt.startswith(("TabSeparated", "TSV")):
        return "text/tab-separated-values; charset=UTF-8"
    if fmt.startswith("CSV"):
        header = "present" if "WithNames" in fmt else "absent"
        return f"text/csv; charset=UTF-8; header={header}"
    if fmt.startswith(("JSON", "NDJSON")):
        return "application/json; charset=UTF-8"
    if fmt in ("XML",):
        return "application/xml; charset=UTF-8"
    if fmt.startswith(("Native", "RowBinary", "Parquet", "Arrow", "ORC", "Avro", "Protobuf",
                       "CapnProto", "MsgPack", "BSON", "Npy")):
        return "application/octet-stream"
    return "text/plain; charset=UTF-8"


# --- response pieces ----------------------------------------------------------------

def exception_tag() -> str:
    """A fresh tag for X-ClickHouse-Exception-Tag (16 lower-case letters and digits,
    like the server's)."""
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(16))


def tagged_exception(tag: str, text: str) -> bytes:
    """An error after the body started: ``__exception__``, the tag, the text, its
    length and the tag, between CRLF-separated markers (ClickHouse 25.11+)."""
    message = text.rstrip("\n").encode()
    return (b"\r\n__exception__\r\n" + tag.encode() + b"\r\n" + message + b"\n"
            + str(len(message)).encode() + b" " + tag.encode() + b"\r\n__exception__\r\n")


def summary(read_rows: int = 0, read_bytes: int = 0, written_rows: int = 0,
            written_bytes: int = 0, result_rows: int = 0, result_bytes: int = 0,
            elapsed_ns: int = 0) -> str:
    """The X-ClickHouse-Summary header: progress counters as JSON strings."""
    return json.dumps({
        "read_rows": str(read_rows), "read_bytes": str(read_bytes),
        "written_rows": str(written_rows), "written_bytes": str(written_bytes),
        "total_rows_to_read": str(read_rows), "result_rows": str(result_rows),
        "result_bytes": str(result_bytes), "elapsed_ns": str(elapsed_ns),
    }, separators=(",", ":"))
