"""A split deployment as real processes: one store, two collectors, one UI (issue 17).

The store host is ``tokentrail serve --no-ui --no-collector`` on an embedded store with
its SQL interface writable: it stands in for a ClickHouse server (none can be
installed here; deploy/README.md says so). Collectors (``--no-ui``) and the UI
(``--no-collector``) reach it with ``--clickhouse http://user:token@…`` through
clickhouse-connect's HTTP client, the code path a real server gets.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.deploy.processes import Process, collector_ready, store_host, ui_ready
from tests.otlp import NOW_NS, anthropic_call_attrs, span, trace_request
from tokentrail.store import Store

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[dict[str, Process]]:
    host = store_host(tmp_path_factory.mktemp("split") / "data")
    started = [host]
    try:
        for name in ("collector-a", "collector-b"):
            started.append(Process(name, "--no-ui", "--clickhouse", host.dsn)
                           .start(collector_ready))
        started.append(Process("ui", "--no-collector", "--clickhouse", host.dsn)
                       .start(ui_ready))
        yield {p.role: p for p in started}
    finally:
        for process in reversed(started):
            process.stop_if_running()


def _request(run: str, first: int, n: int) -> ExportTraceServiceRequest:
    spans = [span(anthropic_call_attrs(response_id=f"msg_{run}_{i}", uncached=10, read=100 * i,
                                       write=50, output=5, conversation=run),
                  start_ns=NOW_NS + i * 10**9, trace_id=bytes([i % 256]) * 16,
                  span_id=i.to_bytes(8, "big"))
             for i in range(first, first + n)]
    return trace_request(spans)


def _export(collector: Process, request: ExportTraceServiceRequest) -> None:
    response = httpx.post(f"{collector.otlp}/v1/traces", content=request.SerializeToString(),
                          headers={"content-type": "application/x-protobuf"}, timeout=30)
    assert response.status_code == 200, response.text  # 200 = committed to the store


def _ui_calls(ui: Process, run: str) -> list[dict]:
    """The run's calls in order, as the UI process reads them (/api/runs/{id}). An SDK
    span's call_id is its response id (docs/design.md, llm_calls)."""
    response = httpx.get(f"{ui.ui}/api/runs/{run}", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["calls"]


def _sql(host: Process) -> Store:
    return Store.open(host.dsn, migrate=False)


def test_processes_run_only_their_part(deployment):
    collector, ui = deployment["collector-a"], deployment["ui"]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{collector.ui}/healthz", timeout=2)
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"{ui.otlp}/v1/traces", content=b"", timeout=2)
    with pytest.raises(httpx.ConnectError):  # only an embedded store's owner answers SQL
        httpx.get(f"{collector.sql}/ping", timeout=2)


def test_ui_process_sees_what_collector_processes_wrote(deployment):
    a, b, ui = deployment["collector-a"], deployment["collector-b"], deployment["ui"]
    _export(a, _request("split-run", 1, 3))
    _export(b, _request("split-run", 4, 2))
    calls = _ui_calls(ui, "split-run")  # no polling: a 200 means committed
    assert [c["call_id"] for c in calls] == [f"msg_split-run_{i}" for i in range(1, 6)]
    assert [c["cache_read_tokens"] for c in calls] == [100 * i for i in range(1, 6)]
    runs = httpx.get(f"{ui.ui}/api/runs", timeout=30).json()
    assert "split-run" in [r["run_id"] for r in runs["runs"]]


def test_the_same_request_through_two_collectors_is_one_call(deployment):
    """An exporter whose 200 was lost retries, and a load balancer sends the retry to
    another collector: both processes insert the same spans. The engine collapses them
    (ReplacingMergeTree keys, read FINAL), so readers see each call once, while the raw
    table shows that both inserts landed."""
    a, b, ui, host = (deployment[k] for k in ("collector-a", "collector-b", "ui",
                                              "store host"))
    request = _request("retried-run", 1, 4)
    with ThreadPoolExecutor(2) as pool:  # at the same time, as a retry storm would
        list(pool.map(lambda c: _export(c, request), (a, b)))
    _export(a, request)  # and once more, later
    calls = _ui_calls(ui, "retried-run")
    assert sorted(c["call_id"] for c in calls) == [f"msg_retried-run_{i}" for i in range(1, 5)]
    store = _sql(host)
    try:
        where = "WHERE SpanAttributes['gen_ai.conversation.id'] = {run:String}"
        raw = store.query(f"SELECT count() AS n FROM otel_traces {where}", {"run": "retried-run"})
        final = store.query(f"SELECT count() AS n FROM otel_traces FINAL {where}",
                            {"run": "retried-run"})
        reports = store.query("SELECT count() AS n FROM llm_call_reports FINAL "
                              "WHERE run_id = {run:String}", {"run": "retried-run"})
    finally:
        store.close()
    assert raw[0]["n"] == 12, "three inserts of four spans should all have landed"
    assert final[0]["n"] == 4
    assert reports[0]["n"] == 4


def test_many_requests_over_both_collectors_lose_nothing(deployment):
    a, b, ui = deployment["collector-a"], deployment["collector-b"], deployment["ui"]
    requests = [(a if i % 2 else b, _request("busy-run", 1 + 5 * i, 5)) for i in range(20)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda job: _export(*job), requests))
    calls = _ui_calls(ui, "busy-run")
    assert len(calls) == 100
    assert len({c["call_id"] for c in calls}) == 100


def test_schema_apply_over_http_creates_everything_then_is_up_to_date(deployment, tmp_path):
    """`tokentrail schema --apply --clickhouse http://…/db`, as deploy/'s schema job runs
    it, on an empty database of the server: every migration, then nothing to do; the
    same objects as an embedded store gets, prices loaded; the UI's reads work."""
    from click.testing import CliRunner

    from tokentrail.cli import cli
    from tokentrail.store import migrations

    host = deployment["store host"]
    admin = _sql(host)
    try:
        admin.client.command("CREATE DATABASE schema_job")
    finally:
        admin.close()
    dsn = f"{host.dsn}/schema_job"
    first = CliRunner().invoke(cli, ["schema", "--apply", "--clickhouse", dsn])
    assert first.exit_code == 0, first.output
    assert f"applied {[m.version for m in migrations.all_migrations()]}" in first.output
    second = CliRunner().invoke(cli, ["schema", "--apply", "--clickhouse", dsn])
    assert second.exit_code == 0 and "up to date" in second.output, second.output
    listing = ("SELECT name, engine FROM system.tables WHERE database = currentDatabase() "
               "ORDER BY name")
    store = Store.open(dsn, migrate=False)
    try:
        assert store.runs() == [] and store.count_runs() == 0
        over_http = store.query(listing)
        prices = [r["name"] for r in over_http if r["name"] == "model_prices"]
        for table in prices:  # the price list is loaded with the schema
            assert store.query(f"SELECT count() AS n FROM {table}")[0]["n"] > 0
    finally:
        store.close()
    embedded = Store.open(f"chdb://{tmp_path / 'reference'}")
    try:
        assert over_http == embedded.query(listing)
    finally:
        embedded.close()


def test_concurrent_ui_requests_share_one_client(deployment):
    """The UI answers requests on several threads over one store client: over HTTP that
    client must not hold a ClickHouse session (clickhouse-connect refuses concurrent
    queries in one)."""
    ui, a = deployment["ui"], deployment["collector-a"]
    _export(a, _request("concurrent-ui", 1, 2))

    def get(path: str) -> int:
        return httpx.get(f"{ui.ui}{path}", timeout=60).status_code

    paths = ["/api/runs", "/api/runs/concurrent-ui", "/healthz"] * 6
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(get, paths)) == [200] * len(paths)


def test_runs_the_collectors_wrote_get_judged_and_stored(deployment):
    """In a split deployment cache_events_stored is still kept current: by the UI
    process and the store host here (collector processes, scaled out, keep none:
    tokentrail/server.py)."""
    from tests.waiting import wait_until

    _export(deployment["collector-b"], _request("kept-run", 1, 3))
    store = _sql(deployment["store host"])
    try:
        wait_until(lambda: store.query(
            "SELECT count() AS n FROM cache_event_runs FINAL WHERE run_id = {run:String}",
            {"run": "kept-run"})[0]["n"], timeout=60, interval=0.5,
            message="a keeper judged kept-run and recorded it in cache_event_runs")
    finally:
        store.close()
