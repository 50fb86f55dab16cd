"""A real `tokentrail serve` subprocess for integration tests.

Other test packages (instrumentation, collector) import :func:`serving` to run
agent -> collector -> store checks against the real process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import free_port
from tests.waiting import wait_until


class Serve:
    def __init__(self, data: Path, *extra_args: str, ui_token: str | None = None) -> None:
        self.data = data
        self.extra_args = extra_args
        self.ui_token = ui_token  # TOKENTRAIL_UI_TOKEN of the process, if any
        self.otlp_port = free_port()
        self.grpc_port = free_port()
        self.ui_port = free_port()
        self.sql_port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def otlp(self) -> str:
        return f"http://127.0.0.1:{self.otlp_port}"

    @property
    def ui(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    @property
    def sql(self) -> str:
        """The SQL interface (ClickHouse's HTTP interface of the embedded store)."""
        return f"http://127.0.0.1:{self.sql_port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tokentrail", "serve", "--data", str(self.data),
             "--otlp-http-port", str(self.otlp_port), "--ui-port", str(self.ui_port),
             "--otlp-grpc-port", str(self.grpc_port), "--sql-port", str(self.sql_port),
             *self.extra_args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1",
                 **({"TOKENTRAIL_UI_TOKEN": self.ui_token} if self.ui_token else {})},
        )
        # /healthz is behind the UI token too (deploy/ health checks send it)
        auth = {"Authorization": f"Bearer {self.ui_token}"} if self.ui_token else {}

        def healthy() -> bool:
            if self.proc.poll() is not None:  # not worth waiting for: fail at once
                raise AssertionError(f"serve exited early:\n{self.proc.stdout.read()}")
            return httpx.get(f"{self.ui}/healthz", headers=auth, timeout=1).status_code == 200

        wait_until(healthy, timeout=60, interval=0.1, ignore=(httpx.TransportError,),
                   message=f"serve on {self.data} answers {self.ui}/healthz")

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            out, _ = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
            raise AssertionError(f"serve did not stop on signal {sig}:\n{out}") from None
        return self.proc.returncode, out


@contextmanager
def serving(data: Path, *extra_args: str, ui_token: str | None = None) -> Iterator[Serve]:
    server = Serve(data, *extra_args, ui_token=ui_token)
    server.start()
    try:
        yield server
    finally:
        if server.proc and server.proc.poll() is None:
            server.stop()


CALLS_OF_RUN = ("SELECT * FROM llm_calls WHERE run_id = {run:String} "
                "ORDER BY timestamp, call_id FORMAT JSONEachRow")


def calls(server: Serve, run_id: str) -> list[dict]:
    """The llm_calls rows of one run, every column, in order, read through serve's SQL
    interface (one query even for thousands of calls; the UI's /api/runs/{id} lists a
    run's calls with the columns its pages show, not every column these tests check)."""
    response = httpx.post(server.sql, content=CALLS_OF_RUN, timeout=30, params={
        "param_run": run_id, "output_format_json_quote_64bit_integers": "0"})
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines() if line]
