"""``tokentrail doctor``: is this install ready, and if not, what to fix.

Four checks, each a real attempt rather than a guess: the store (write a file in the
embedded store's directory and look for a process that owns it, or ask the ClickHouse
server ``SELECT 1``), the ports
``serve`` listens on (bind each one; a port held by a running ``tokentrail serve`` is
fine), the ``anthropic`` SDK's version (the range tokentrail's tests cover), and the
exporter endpoint agents send to (an empty OTLP/HTTP export, which a collector accepts
and answers 200). Each result says what to do; a problem makes the exit code 1.
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote

import httpx

from tokentrail.settings import Settings

OK, WARN, FAIL = "ok", "warn", "FAIL"
# The anthropic SDK versions tokentrail supports: the tests run the newest 0.x and the
# newest 2.x (scripts/test.sh); 0.40 is the floor in pyproject.toml.
SDK_MIN = (0, 40)
SDK_BELOW = (3, 0)
DEFAULT_ENDPOINT = "http://127.0.0.1:4318"  # as tokentrail.auto (docs/design.md)
# The file the embedded engine (chDB, i.e. ClickHouse's StatusFile) writes in its data
# directory, "PID: N" first, and holds an exclusive flock() on while it has the
# directory open: what makes a second process's open fail.
STATUS_FILE = "status"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # OK, WARN or FAIL
    message: str
    fix: str = ""


def check_store(settings: Settings) -> Check:
    """The embedded store's directory can be created and written; or the server answers."""
    if settings.clickhouse:
        from tokentrail.store import redact_dsn
        from tokentrail.store.database import connect

        where = redact_dsn(settings.clickhouse)
        try:
            client = connect(settings.clickhouse)
            try:
                client.query("SELECT 1")
            finally:
                client.close()
        except Exception as exc:  # whatever the driver raises: not usable as it is
            return Check("store", FAIL, f"ClickHouse at {where} does not answer: {exc}",
                         "check the DSN (--clickhouse / TOKENTRAIL_CLICKHOUSE), the server "
                         "and its credentials")
        return Check("store", OK, f"ClickHouse at {where} answers")
    data = settings.data.expanduser()
    try:
        data.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=data, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check("store", FAIL, f"cannot write the embedded store at {data}: "
                     f"{exc.strerror or exc}",
                     "use a writable directory: --data DIR or TOKENTRAIL_DATA=DIR (or fix "
                     "the directory's permissions)")
    owner = store_owner(data)
    if owner is not None:
        return _owned(data, owner, settings)
    return Check("store", OK, f"embedded store {data} is writable")


@dataclass(frozen=True)
class Owner:
    """The process that has an embedded store open."""

    pid: int | None  # from the status file; None if it did not say
    command: str = ""  # its command line, where the system tells (/proc)

    @property
    def is_serve(self) -> bool:
        words = self.command.split()
        return "serve" in words and any("tokentrail" in w for w in words)

    def __str__(self) -> str:
        if self.pid is None:
            return "a running process"
        return f"a running process (pid {self.pid}" + (
            f": {_shorten(self.command)})" if self.command else ")")


def store_owner(data: Path) -> Owner | None:
    """The process that holds the embedded store at ``data`` open, if any: the engine's
    lock on :data:`STATUS_FILE` is tried without waiting (a shared lock, let go at once,
    so it never blocks the owner; a status file left by a process that ended is not
    locked). ``None`` where flock() does not exist (chDB runs on Linux and macOS)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - no chDB there either
        return None
    try:
        fd = os.open(data / STATUS_FILE, os.O_RDONLY)
    except OSError:  # no status file: no process has opened it yet
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 4096).decode("utf-8", errors="replace")
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
    finally:
        os.close(fd)
    found = re.search(r"^PID:\s*(\d+)", text, re.MULTILINE)
    pid = int(found.group(1)) if found else None
    return Owner(pid, _command_line(pid) if pid else "")


def _command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return " ".join(raw.replace(b"\0", b" ").decode("utf-8", errors="replace").split())


def _shorten(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _owned(data: Path, owner: Owner, settings: Settings) -> Check:
    """A store another process has open: ``serve`` (or any command with ``--data``) on
    it would fail, since only one process can open an embedded data directory. When
    the owner is a tokentrail serve, that is how it should be, so it is a warning."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    sql = (f"point your tools at its SQL interface instead of the directory: --clickhouse "
           f"http://{host}:{settings.sql_port or 8123} or TOKENTRAIL_CLICKHOUSE (the port "
           "of its --sql-port)")
    message = f"embedded store {data} is owned by {owner}"
    if owner.is_serve:
        return Check("store", WARN, f"{message}; other commands cannot open it while "
                     "serve runs", f"{sql}, or stop it")
    return Check("store", FAIL, f"{message}: serve cannot open it (one process per "
                 "embedded store)", f"stop it, or, if it is a tokentrail serve, {sql}")


def _serve_running(settings: Settings) -> bool:
    """Whether a tokentrail serve answers /healthz on the UI port."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    try:
        response = httpx.get(f"http://{host}:{settings.ui_port}/healthz", timeout=2)
        return response.status_code == 200 and "schema_version" in response.json()
    except (httpx.HTTPError, ValueError):
        return False


def _port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # As uvicorn and grpc bind: a port left in TIME_WAIT by a serve that just
        # stopped is free for the next one, a listening socket is still refused.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def check_ports(settings: Settings) -> list[Check]:
    """Each port serve listens on is free, or held by a running tokentrail serve."""
    ports = [("OTLP/HTTP", settings.otlp_http_port, "--otlp-http-port",
              "TOKENTRAIL_OTLP_HTTP_PORT"),
             ("OTLP/gRPC", settings.otlp_grpc_port, "--otlp-grpc-port",
              "TOKENTRAIL_OTLP_GRPC_PORT"),
             ("UI", settings.ui_port, "--ui-port", "TOKENTRAIL_UI_PORT")]
    if settings.sql_port and not settings.clickhouse:
        ports.append(("SQL", settings.sql_port, "--sql-port", "TOKENTRAIL_SQL_PORT"))
    busy = [p for p in ports if not _port_free(settings.host, p[1])]
    if not busy:
        listed = ", ".join(f"{port} ({name})" for name, port, *_ in ports)
        return [Check("ports", OK, f"free on {settings.host}: {listed}")]
    if _serve_running(settings):
        return [Check("ports", OK, f"tokentrail serve is running on {settings.host} "
                      f"(UI on port {settings.ui_port})")]
    return [Check("ports", FAIL, f"port {port} ({name}) on {settings.host} is taken by "
                  "another program", f"stop that program, or give serve another port: "
                  f"{flag} N or {env}=N")
            for name, port, flag, env in busy]


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def check_sdk() -> Check:
    """The anthropic SDK in this environment is one tokentrail instruments."""
    supported = f"{SDK_MIN[0]}.{SDK_MIN[1]} up to {SDK_BELOW[0] - 1}.x"
    try:
        version = metadata.version("anthropic")
    except metadata.PackageNotFoundError:
        return Check("anthropic SDK", WARN, "not installed in this environment",
                     "agents need it where they run (pip install anthropic); so does "
                     "`tokentrail demo` (pip install 'tokentrail[demo]')")
    if not SDK_MIN <= _version_tuple(version) < SDK_BELOW:
        return Check("anthropic SDK", FAIL, f"{version} is not supported ({supported})",
                     f"pip install 'anthropic>={SDK_MIN[0]}.{SDK_MIN[1]},<{SDK_BELOW[0]}'")
    return Check("anthropic SDK", OK, f"{version} (supported: {supported})")


def exporter_endpoint(environ: dict[str, str] | None = None) -> str:
    """Where ``import tokentrail.auto`` sends traces, from the same variables."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or DEFAULT_ENDPOINT
    return base.rstrip("/") + "/v1/traces"


def _otlp_headers(environ: dict[str, str]) -> dict[str, str]:
    raw = (environ.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
           or environ.get("OTEL_EXPORTER_OTLP_HEADERS") or "")
    headers = {}
    for item in raw.split(","):
        if "=" in item:
            key, value = item.split("=", 1)
            headers[unquote(key.strip())] = unquote(value.strip())
    return headers


def check_endpoint(endpoint: str, environ: dict[str, str] | None = None) -> Check:
    """An empty OTLP/HTTP trace export to ``endpoint`` is accepted."""
    env = dict(os.environ if environ is None else environ)
    headers = {"content-type": "application/x-protobuf", **_otlp_headers(env)}
    try:
        response = httpx.post(endpoint, content=b"", headers=headers, timeout=5)
    except httpx.HTTPError as exc:
        return Check("exporter endpoint", FAIL, f"nothing answers at {endpoint} ({exc})",
                     "start `tokentrail serve` (or `tokentrail demo`), or point "
                     "OTEL_EXPORTER_OTLP_ENDPOINT at your collector")
    if response.status_code in (401, 403):
        return Check("exporter endpoint", FAIL, f"{endpoint} refused the request "
                     f"({response.status_code}): it wants a token",
                     "export OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<token> "
                     "(the collector's TOKENTRAIL_INGEST_TOKEN)")
    if response.status_code >= 300:
        return Check("exporter endpoint", FAIL, f"{endpoint} answered "
                     f"{response.status_code}: not an OTLP/HTTP trace receiver?",
                     "point OTEL_EXPORTER_OTLP_ENDPOINT at tokentrail serve's OTLP/HTTP "
                     "port (4318), without a path")
    return Check("exporter endpoint", OK, f"{endpoint} accepts OTLP/HTTP traces")


def run_checks(settings: Settings, endpoint: str | None = None) -> list[Check]:
    return [check_store(settings), *check_ports(settings), check_sdk(),
            check_endpoint(endpoint or exporter_endpoint())]


def report(checks: list[Check]) -> str:
    lines = []
    for check in checks:
        lines.append(f"{check.status:>4}  {check.name}: {check.message}")
        if check.fix and check.status != OK:
            lines.append(f"      fix: {check.fix}")
    problems = sum(1 for c in checks if c.status == FAIL)
    lines.append("no problems found" if not problems else f"{problems} problem(s)")
    return "\n".join(lines) + "\n"

