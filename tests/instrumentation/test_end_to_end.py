"""Agent process (`import tokentrail.auto`) -> `tokentrail serve` -> llm_calls.

Real parts only: the anthropic SDK over HTTP to the emulator, the official OTLP/HTTP
exporter that tokentrail.auto configures, a real `tokentrail serve` subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.integration.serve import calls, serving

pytestmark = [pytest.mark.integration, pytest.mark.sdk]

AGENT = Path(__file__).with_name("agent_e2e.py")


def test_agent_to_serve_to_llm_calls(tmp_path, emu) -> None:
    with serving(tmp_path / "data") as server:
        env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": server.otlp,
               "OTEL_SERVICE_NAME": "e2e-agent", "PYTHONPATH": str(REPO)}
        env.pop("OTEL_SDK_DISABLED", None)
        env.pop("TOKENTRAIL_DISABLED", None)
        done = subprocess.run([sys.executable, str(AGENT), emu.base_url], env=env,
                              capture_output=True, text=True, timeout=120, cwd=REPO)
        assert done.returncode == 0, done.stderr
        usages = [json.loads(line) for line in done.stdout.splitlines()]
        assert len(usages) == 3
        # The agent exited after its exporter was answered, and serve answers only once
        # the rows are committed: everything it sent is in the store now, so one read is
        # final. Fewer rows would be a lost span; more, a duplicate report of a call.
        rows = sorted(calls(server, "e2e-run"), key=lambda r: r["turn"])

    assert len(rows) == 3, (rows, done.stderr)  # one row per call, whatever the SDK generation
    assert [r["turn"] for r in rows] == [1, 2, 3]
    for row, usage in zip(rows, usages, strict=True):
        assert row["source"] == "tokentrail"
        assert row["run_id"] == "e2e-run" and row["run_name"] == "e2e"
        assert row["service_name"] == "e2e-agent"
        assert row["response_id"] == usage["id"]
        assert (row["input_tokens"], row["cache_read_tokens"], row["cache_write_5m_tokens"],
                row["cache_write_1h_tokens"], row["output_tokens"]) == (
            usage["input"], usage["read"], usage["write"], 0, usage["output"])
        assert len(row["prefix_message_hashes"]) == 2 * row["turn"] - 1
    # The emulator's cache: written on turn 1, read after.
    assert (usages[0]["write"], usages[1]["read"], usages[2]["read"]) == (3000, 3000, 3000)
