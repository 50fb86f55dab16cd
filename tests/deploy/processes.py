"""Real ``tokentrail serve`` processes of a split deployment, on localhost.

The roles of deploy/README.md, each its own process: the *store host* (``serve
--no-ui --no-collector`` on an embedded store, its SQL interface writable: it stands in
for the ClickHouse server, which cannot be installed here), *collectors* (``serve
--no-ui --clickhouse http://…``) and a *UI* (``serve --no-collector --clickhouse …``).
Each is ready when its own port answers: /ping on the SQL interface, an empty OTLP
export on the collector, /healthz on the UI.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import free_port
from tests.waiting import wait_until

SQL_TOKEN = "split-sql-token"


class Process:
    """One ``tokentrail serve`` with free ports; ``start`` waits until ``ready``."""

    def __init__(self, role: str, *args: str, env: dict[str, str] | None = None) -> None:
        self.role = role
        self.otlp_port, self.grpc_port = free_port(), free_port()
        self.ui_port, self.sql_port = free_port(), free_port()
        self.args = args
        self.env = env or {}
        self.proc: subprocess.Popen | None = None

    @property
    def otlp(self) -> str:
        return f"http://127.0.0.1:{self.otlp_port}"

    @property
    def ui(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    @property
    def sql(self) -> str:
        return f"http://127.0.0.1:{self.sql_port}"

    @property
    def dsn(self) -> str:
        """What the other processes pass as --clickhouse (the store host's)."""
        return f"http://tokentrail:{SQL_TOKEN}@127.0.0.1:{self.sql_port}"

    def start(self, ready: Callable[[Process], bool]) -> Process:
        base = {k: v for k, v in os.environ.items() if not k.startswith("TOKENTRAIL_")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tokentrail", "serve",
             "--otlp-http-port", str(self.otlp_port), "--otlp-grpc-port", str(self.grpc_port),
             "--ui-port", str(self.ui_port), "--sql-port", str(self.sql_port), *self.args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**base, "PYTHONUNBUFFERED": "1", "TOKENTRAIL_DECODE_WORKERS": "0",
                 **self.env})

        def probe() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.role} exited early:\n{self.proc.stdout.read()}")
            return ready(self)

        wait_until(probe, timeout=90, interval=0.1, ignore=(httpx.TransportError,),
                   message=f"the {self.role} process answers")
        return self

    def stop(self) -> tuple[int, str]:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            out, _ = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
            raise AssertionError(f"{self.role} did not stop on SIGTERM:\n{out}") from None
        return self.proc.returncode, out

    def stop_if_running(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.stop()


def sql_ready(p: Process) -> bool:
    return httpx.get(f"{p.sql}/ping", timeout=2).text == "Ok.\n"


def collector_ready(p: Process) -> bool:
    response = httpx.post(f"{p.otlp}/v1/traces", content=b"", timeout=5,
                          headers={"content-type": "application/x-protobuf"})
    return response.status_code == 200


def ui_ready(p: Process) -> bool:
    return httpx.get(f"{p.ui}/healthz", timeout=2).status_code == 200


def store_host(data: Path) -> Process:
    """The embedded store's owner, serving only its writable SQL interface."""
    return Process("store host", "--data", str(data), "--no-ui", "--no-collector",
                   env={"TOKENTRAIL_SQL_WRITABLE": "1", "TOKENTRAIL_SQL_TOKEN": SQL_TOKEN,
                        # every process it hosts sends queries from several threads; the
                        # default cap (4) is for people's ad-hoc SQL (deploy/README.md)
                        "TOKENTRAIL_SQL_MAX_CONCURRENT_QUERIES": "32"}
                   ).start(sql_ready)
