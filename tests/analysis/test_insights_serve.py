"""A real ``tokentrail serve`` keeps the insights' facts: calls posted over OTLP/HTTP show
in ``insights`` through its SQL interface (judged on read until a pass stored them),
its passes store them, and after a clean stop (SIGTERM) the stored facts alone give
the same findings, with no run left to judge."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.analysis.insights_agents import END, SECOND, START, Call
from tests.integration.serve import Serve, serving
from tests.otlp import NOW_NS, anthropic_call_attrs, span, trace_request
from tests.waiting import wait_until
from tokentrail import semconv as sc
from tokentrail.analysis import insights as ins
from tokentrail.analysis import insights_store
from tokentrail.store import Store
from tokentrail.store.database import connect


@pytest.fixture
def server(tmp_path) -> Iterator[Serve]:
    with serving(tmp_path / "data") as running:
        yield running


def _post(server: Serve, calls: list[Call]) -> None:
    for i, c in enumerate(calls):
        attrs = anthropic_call_attrs(response_id=f"msg_{c.run}_{i}", uncached=c.uncached,
                                     read=c.read, write=c.w5 + c.w1, write_1h=c.w1,
                                     output=c.output, model=c.model)
        attrs[sc.RUN_ID] = c.run
        attrs[sc.TURN] = c.turn
        body = trace_request([span(attrs, start_ns=NOW_NS + int(c.at * SECOND))],
                             service=c.service).SerializeToString()
        response = httpx.post(f"{server.otlp}/v1/traces", content=body, timeout=30,
                              headers={"Content-Type": "application/x-protobuf"})
        assert response.status_code == 200, response.text


def _findings(store: Store, *, on_read: bool = True) -> list[tuple]:
    sql = ins.insights_select(recurring=False, on_read=on_read)
    rows = store.query(f"SELECT * FROM ({sql})", {**ins.DEFAULTS, "start": START, "end": END})
    return sorted((r["kind"], r["service_name"], tuple(r["run_ids"]), r["calls"],
                   round(r["savings_usd"], 12)) for r in rows)


def test_serve_stores_the_facts_and_they_are_complete_after_a_clean_stop(server):
    queue = [Call(f"sv-q-{i}", 1, at=5.0 * i, uncached=2000 + 10 * i, output=60,
                  service="sv-classifier") for i in range(12)]
    seed = [Call("sv-seed", k, at=30.0 * k, uncached=40_000 + 500 * k, output=200,
                 service="sv-prefix") for k in range(1, 13)]
    _post(server, queue + seed)

    live = Store(connect(server.sql), server.sql)
    try:
        seen = _findings(live)  # whatever serve has stored by now, the rest on read
        assert {(k[0], k[1]) for k in seen} == {("batch_candidate", "sv-classifier"),
                                                ("uncached_prefix", "sv-prefix")}
        runs = {c.run for c in queue + seed}
        wait_until(lambda: live.query(
            f"SELECT uniqExact(run_id) AS n FROM {insights_store.STORED} FINAL")[0]["n"],
            until=lambda n: n == len(runs), timeout=120, interval=0.5,
            message="serve's passes store the facts of every run")
    finally:
        live.close()

    code, output = server.stop()
    assert code == 0, output
    store = Store.open(f"chdb://{server.data}", migrate=False)
    try:
        assert store.query(insights_store.dirty_runs_select()) == []
        assert _findings(store, on_read=False) == seen
    finally:
        store.close()
