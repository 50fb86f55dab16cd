"""``tokentrail prices``: what is in force (overrides included), which stored models
have no price, and which calls' reported cost disagrees."""

from __future__ import annotations

import json

from click.testing import CliRunner

from tests.analysis.conftest import collector
from tokentrail.analysis import price_file
from tokentrail.cli import cli
from tokentrail.store import Store

HEADER = ",".join(price_file.COLUMNS)


def test_prices_lists_what_is_in_force_what_has_no_price_and_disagreements(
        tmp_path, monkeypatch):
    data = tmp_path / "data"
    store = Store.open(f"chdb://{data}")
    try:
        with collector(store) as otlp:
            otlp.call("msg_a", model="claude-sonnet-4-5-20250929", uncached=10, output=1,
                      cost_usd=0.5)
            otlp.call("msg_b", model="claude-nova-9", uncached=10, output=1)
    finally:
        store.close()
    mine = tmp_path / "mine.csv"
    mine.write_text(f"{HEADER}\n"
                    "claude-nova-8,,,0,,1,1.25,2,0.1,5,0.5,,,10,0,unverified,our test\n")
    monkeypatch.setenv("TOKENTRAIL_PRICES", str(mine))

    result = CliRunner().invoke(cli, ["prices", "--data", str(data)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert f"overrides: {mine}" in lines[0]
    assert any(line.startswith("claude-nova-8 ") and "unverified" in line for line in lines)
    assert any(line.startswith("claude-sonnet-4-5 ") and "> 200,000 input with "
               "context-1m-2025-08-07" in line for line in lines)
    assert any(line.startswith("claude-nova-9") and "no price for this model" in line
               for line in lines)
    assert "differs by more than $0.000001: 1" in result.output
    assert any(line.startswith("msg_a ") and "0.500000" in line for line in lines)

    result = CliRunner().invoke(cli, ["prices", "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["files"] == [str(mine)]
    assert [r["model"] for r in report["unpriced"]] == ["claude-nova-9"]
    assert report["disagreements"] == 1
    assert report["disagreeing_calls"][0]["call_id"] == "msg_a"


def test_a_bad_price_file_is_a_clear_error(tmp_path, monkeypatch):
    bad = tmp_path / "bad.csv"
    bad.write_text("family,input\nclaude-x,3\n")
    monkeypatch.setenv("TOKENTRAIL_PRICES", str(bad))
    result = CliRunner().invoke(cli, ["prices", "--data", str(tmp_path / "data")])
    assert result.exit_code == 1
    assert "bad price file" in result.output and "bad.csv:1: the header must have" in (
        result.output)
