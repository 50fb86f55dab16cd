"""`serve --no-ui` / `--no-collector`: a part that does not run needs no token, and a
serve with nothing to serve refuses to start (the processes themselves run in
test_split.py)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tokentrail.cli import cli
from tokentrail.settings import Settings


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    import os
    for name in [n for n in os.environ if n.startswith("TOKENTRAIL_")]:
        monkeypatch.delenv(name)


def test_each_part_needs_only_its_own_token():
    exposed = Settings(host="0.0.0.0", clickhouse="http://ch:8123")
    assert len(exposed.exposure_problems()) == 2  # ingest and UI tokens
    ui_only = Settings(host="0.0.0.0", clickhouse="http://ch:8123", ui_token="u")
    assert ui_only.exposure_problems(collector=False) == []
    assert "TOKENTRAIL_INGEST_TOKEN" in " ".join(ui_only.exposure_problems())
    collector_only = Settings(host="0.0.0.0", clickhouse="http://ch:8123", ingest_token="i")
    assert collector_only.exposure_problems(ui=False) == []
    assert "TOKENTRAIL_UI_TOKEN" in " ".join(collector_only.exposure_problems())


@pytest.mark.parametrize("args", [
    ["--clickhouse", "http://ch:8123"],  # a server answers SQL itself
    ["--sql-port", "0"],  # an embedded store with its SQL interface off
])
def test_nothing_to_serve_is_refused(tmp_path, args):
    result = CliRunner().invoke(cli, ["serve", "--no-ui", "--no-collector",
                                      "--data", str(tmp_path), *args])
    assert result.exit_code == 2
    assert "leave nothing to serve" in result.output


def test_store_host_still_needs_the_sql_token_to_be_writable(tmp_path, monkeypatch):
    monkeypatch.setenv("TOKENTRAIL_SQL_WRITABLE", "1")
    result = CliRunner().invoke(cli, ["serve", "--no-ui", "--no-collector",
                                      "--data", str(tmp_path)])
    assert result.exit_code == 2
    assert "TOKENTRAIL_SQL_TOKEN" in result.output
