"""``tokentrail serve`` on a store with no calls says how to send some, with the
addresses it listens on; once a call is stored it no longer does. Real serve processes;
the call gets into the store through ``tokentrail import claude-code`` (a real capture)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from tests.conftest import CLAUDE_CODE_FIXTURES
from tests.integration.serve import Serve, serving
from tests.waiting import wait_until
from tokentrail.cli import cli

pytestmark = pytest.mark.integration

HINT = "The store has no calls yet. To send some:"


def _stop_once_announced(server: Serve) -> str:
    """Stop serve once all of its servers answer (it announces itself, and checks the
    store, as soon as they have started); its whole output."""
    wait_until(lambda: httpx.post(f"{server.otlp}/v1/traces", content=b"", timeout=5,
                                  headers={"content-type": "application/x-protobuf"}),
               until=lambda r: r.status_code == 200, ignore=(httpx.TransportError,),
               timeout=30, message="serve's OTLP receiver answers")
    wait_until(lambda: httpx.get(f"{server.sql}/ping", timeout=5),
               until=lambda r: r.status_code == 200, ignore=(httpx.TransportError,),
               timeout=30, message="serve's SQL interface answers")
    code, output = server.stop()
    assert code == 0, output
    return output


def test_empty_store_says_how_to_send_data(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with serving(data) as server:
        output = _stop_once_announced(server)
    assert HINT in output
    endpoint = server.otlp
    assert (f"  your agent:   add `import tokentrail.auto` (pip install tokentrail) and run it "
            f"with OTEL_EXPORTER_OTLP_ENDPOINT={endpoint}") in output
    assert ("  Claude Code:  CLAUDE_CODE_ENABLE_TELEMETRY=1 OTEL_METRICS_EXPORTER=otlp "
            "OTEL_LOGS_EXPORTER=otlp OTEL_EXPORTER_OTLP_PROTOCOL=http/json "
            f"OTEL_EXPORTER_OTLP_ENDPOINT={endpoint} claude") in output
    assert "tokentrail demo" in output

    imported = CliRunner().invoke(cli, ["import", "claude-code", "--data", str(data),
                                        str(CLAUDE_CODE_FIXTURES / "session-transcript.jsonl")])
    assert imported.exit_code == 0, imported.output
    assert "0 new" not in imported.output
    with serving(data) as again:
        output = _stop_once_announced(again)
    assert "tokentrail serve: OTLP/HTTP on" in output
    assert HINT not in output
