"""``tokentrail insights`` and ``tokentrail whatif`` on an embedded store."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.analysis.conftest import collector
from tests.analysis.insights_agents import BATCH, END, START, Call, cost, send
from tokentrail.cli import cli
from tokentrail.store import Store

RANGE = ["--start", START.isoformat(), "--end", END.isoformat()]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A store with twelve single-call runs, closed so the CLI can open it."""
    path = tmp_path_factory.mktemp("cli") / "data"
    store = Store.open(f"chdb://{path}")
    calls = [Call(f"q-{i}", 1, at=5.0 * i, uncached=3000, output=40, service="queue")
             for i in range(12)]
    try:
        with collector(store) as otlp:
            send(otlp, calls)
    finally:
        store.close()
    return path, calls


def test_insights_prints_the_top_findings_with_run_ids(data):
    path, calls = data
    result = CliRunner().invoke(cli, ["insights", "--data", str(path), *RANGE])
    assert result.exit_code == 0, result.output
    assert "1. batch_candidate [service, estimated] queue / claude-sonnet-4-6" in result.output
    saved = sum(cost(c) for c in calls) - sum(cost(c, factor=BATCH) for c in calls)
    assert f"save ${saved:,.4f}" in result.output
    assert "runs: q-" in result.output

    as_json = CliRunner().invoke(cli, ["insights", "--data", str(path), "--json", *RANGE])
    (row,) = json.loads(as_json.output)
    assert row["kind"] == "batch_candidate" and row["savings_usd"] == pytest.approx(saved)


def test_whatif_batch_of_a_service(data):
    path, calls = data
    result = CliRunner().invoke(cli, ["whatif", "batch", "--service", "queue", "--json",
                                      "--data", str(path), *RANGE])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["calls"] == 12
    assert out["whatif_cost_usd"] == pytest.approx(sum(cost(c, factor=BATCH) for c in calls))


@pytest.mark.parametrize("args, message", [
    (["insights", "--since", "7x"], "--since '7x'"),
    (["insights", "--kind", "cheaper"], "unknown kind(s) cheaper"),
    (["insights", "--start", "yesterday"], "not an ISO 8601 time"),
    (["whatif", "cheaper"], "'cheaper' is not one of 'batch'"),
])
def test_bad_input_is_a_clear_error(data, args, message):
    path, _ = data
    result = CliRunner().invoke(cli, [*args, "--data", str(path)])
    assert result.exit_code == 2 and message in result.output, result.output
