"""An unreachable collector: ``import tokentrail.auto`` logs one clear warning, not a
stack trace or a warning per retry of every export, and one line when the collector
answers again. The real OTLP exporter against a closed localhost port, then a real
``tokentrail serve`` on that port."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port
from tests.integration.serve import Serve

pytestmark = pytest.mark.integration


def test_one_warning_while_the_collector_is_unreachable(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there until serve starts on it
    endpoint = f"http://127.0.0.1:{port}/v1/traces"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TOKENTRAIL_"))}
    env.update(OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}",
               PYTHONPATH=os.pathsep.join(filter(None, (str(REPO), env.get("PYTHONPATH")))))
    agent = subprocess.Popen([sys.executable, "-m", "tests.demo.unreachable_agent"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    server = Serve(tmp_path / "data")
    server.otlp_port = port
    try:
        assert agent.stdout.readline() == "waiting\n", agent.stderr.read()
        server.start()
        out, err = agent.communicate("go\n", timeout=120)
    finally:
        if agent.poll() is None:
            agent.kill()
        if server.proc is not None:
            server.stop()
    assert agent.returncode == 0, err
    assert out == "done\n"
    lines = err.splitlines()
    warnings = [line for line in lines if line.startswith("tokentrail: cannot send spans")]
    assert warnings == [
        f"tokentrail: cannot send spans to {endpoint} ([Errno 111] Connection refused); they "
        "are dropped until it answers. Start `tokentrail serve` (or `tokentrail demo`), or "
        "set OTEL_EXPORTER_OTLP_ENDPOINT to your collector; `tokentrail doctor` checks the "
        "setup."], err
    assert f"tokentrail: {endpoint} accepts spans again" in lines, err
    # the exporter's own records during tokentrail's exports are held back ...
    assert not any("Transient error" in line or "Failed to export" in line
                   for line in lines), err
    assert "Traceback" not in err
    # ... but not the application's record on the same logger, outside them
    assert "the application's own record" in lines, err
    assert lines == [warnings[0], "the application's own record",
                     f"tokentrail: {endpoint} accepts spans again"], err
