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


# Mechanical calls of other services beside the queue: 24 single-call runs on Opus, both
# a batch and a routing candidate (two findings re-pricing the same calls).
LABELS = [Call(f"l-{i}", 1, at=200.0 + 5 * i, model="claude-opus-4-5", uncached=1000,
               output=20, service="labels") for i in range(24)]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A store with twelve single-call runs, closed so the CLI can open it."""
    path = tmp_path_factory.mktemp("cli") / "data"
    store = Store.open(f"chdb://{path}")
    calls = [Call(f"q-{i}", 1, at=5.0 * i, uncached=3000, output=40, service="queue")
             for i in range(12)]
    try:
        with collector(store) as otlp:
            send(otlp, calls + LABELS)
    finally:
        store.close()
    return path, calls


def test_insights_prints_the_top_findings_with_run_ids(data):
    path, calls = data
    result = CliRunner().invoke(cli, ["insights", "--data", str(path), *RANGE])
    assert result.exit_code == 0, result.output
    assert ". batch_candidate [service, estimated] queue / claude-sonnet-4-6" in result.output
    saved = sum(cost(c) for c in calls) - sum(cost(c, factor=BATCH) for c in calls)
    assert f"save ${saved:,.4f}" in result.output
    assert "runs: q-" in result.output

    as_json = CliRunner().invoke(cli, ["insights", "--data", str(path), "--json",
                                       "--kind", "batch_candidate", *RANGE])
    rows = {r["service_name"]: r for r in json.loads(as_json.output)}
    assert rows["queue"]["savings_usd"] == pytest.approx(saved)


def test_insights_heads_with_the_largest_finding_not_a_sum(data):
    """The labels service is a batch and a routing candidate over the same calls: the
    head names the largest finding, as the insights page does, never the sum."""
    path, _ = data
    as_json = CliRunner().invoke(cli, ["insights", "--data", str(path), "--json", *RANGE])
    savings = [float(r["savings_usd"]) for r in json.loads(as_json.output)]
    assert len(savings) == 3, savings
    result = CliRunner().invoke(cli, ["insights", "--data", str(path), *RANGE])
    head = result.output.splitlines()[0]
    assert head.endswith(f": 3 finding(s); the largest single finding would save "
                         f"${max(savings):,.2f} (they overlap: do not add them up)"), head
    assert f"${sum(savings):,.2f}" not in result.output


def test_whatif_batch_of_a_service(data):
    path, calls = data
    result = CliRunner().invoke(cli, ["whatif", "batch", "--service", "queue", "--json",
                                      "--data", str(path), *RANGE])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["calls"] == 12
    assert out["whatif_cost_usd"] == pytest.approx(sum(cost(c, factor=BATCH) for c in calls))


def test_whatif_of_a_finding_gives_its_numbers(data):
    """`--only-model` and `--only-candidates` (as the insights page's command gives
    them) narrow the what-if to the finding's calls: its calls and savings."""
    path, _ = data
    as_json = CliRunner().invoke(cli, ["insights", "--data", str(path), "--json",
                                       "--kind", "model_routing_candidate", *RANGE])
    (finding,) = json.loads(as_json.output)
    result = CliRunner().invoke(cli, [
        "whatif", "model", "--service", "labels", "--only-model", finding["model"],
        "--only-candidates", "--data", str(path), *RANGE])
    assert result.exit_code == 0, result.output
    assert "service labels, model claude-opus-4-5, only the rule's calls, " in result.output
    assert "24 priced call(s) in 24 run(s)" in result.output
    assert f"difference:   ${float(finding['savings_usd']):,.4f}" in result.output


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
