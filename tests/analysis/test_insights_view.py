"""``SELECT * FROM insights``: the findings of the last 30 days, as soon as the calls
are stored (a view judged on read; migration 4)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.analysis.insights_agents import BATCH, Call, cost
from tests.otlp import anthropic_call_attrs, span, trace_request
from tokentrail import semconv as sc

DAY = 86400


def _send(otlp, calls: list[Call], now_s: float) -> None:
    for i, c in enumerate(calls):
        attrs = anthropic_call_attrs(response_id=f"v_{c.run}_{i}", uncached=c.uncached,
                                     read=0, write=0, output=c.output, model=c.model)
        attrs[sc.RUN_ID] = c.run
        otlp.traces(trace_request([span(attrs, start_ns=int((now_s + c.at) * 1e9))],
                                  service=c.service))


def test_view_gives_the_last_30_days(store, otlp):
    now = time.time()
    recent = [Call(f"r-{i}", 1, at=-DAY + 5 * i, uncached=4000, output=30, service="recent")
              for i in range(10)]
    old = [Call(f"o-{i}", 1, at=-40 * DAY + 5 * i, uncached=4000, output=30, service="old")
           for i in range(10)]
    _send(otlp, recent + old, now)

    rows = store.query("SELECT * FROM insights")
    assert [(r["kind"], r["service_name"]) for r in rows] == [("batch_candidate", "recent")]
    saved = sum(cost(c) for c in recent) - sum(cost(c, factor=BATCH) for c in recent)
    assert rows[0]["savings_usd"] == pytest.approx(saved, rel=1e-9)
    # The same findings as the Store method over the same 30 days.
    end = datetime.now(timezone.utc) + timedelta(days=1)
    same = store.insights(end - timedelta(days=31), end)
    assert [(r["kind"], r["service_name"], r["calls"]) for r in same] == [
        (r["kind"], r["service_name"], r["calls"]) for r in rows]
