"""Typed shapes of the runs, fleet and insights JSON twins (``/api/runs``, ``/api/fleet``,
``/api/insights``, ``/api/whatif``; the run rows of ``/api/runs/{run_id}`` too), so
``/api/openapi.json`` documents each field.

The rows come from the store (Store.run_list, Store.fleet: tokentrail/store/ui_reads.py);
these models only name and type them (no Python validators: a fleet of a few hundred
services over 90 days is tens of thousands of rows, validated in pydantic's core).
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class _Row(BaseModel):
    model_config = ConfigDict(extra="ignore")


class RunListRow(_Row):
    """One run: its calls summed (the runs page's row, the fleet's top runs, a run
    page's header row and its children: one shape wherever a run is a row)."""

    run_id: str
    run_name: str = ""
    service_name: str = ""
    models: list[str] = []
    parent_run_id: str = Field("", description="'' when the run has no parent run")
    source: str = Field("", description="The source of the run's first call")
    calls: int
    input_tokens: int = Field(description="Uncached input tokens (Anthropic's convention)")
    cache_read_tokens: int
    cache_write_5m_tokens: int
    cache_write_1h_tokens: int
    output_tokens: int
    cost_usd: float | None = Field(None, description="null when a model has no price")
    cost_uncached_usd: float | None = Field(
        None, description="What the same tokens would have cost with no caching at all")
    hit_rate: float | None = Field(
        None, description="cache_read / (input + cache_read + cache writes), 0..1")
    events: int = Field(0, description="Cache events (calls whose cache behaviour cost money)")
    events_cost_usd: float | None = Field(None, description="What those events cost extra")
    started_at: datetime
    ended_at: datetime


class RunFilters(BaseModel):
    service: str | None = None
    model: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    has_events: bool | None = None
    sort: str = "recent"


class FilterOptions(BaseModel):
    services: list[str] = []
    models: list[str] = []


class RunsPage(BaseModel):
    runs: list[RunListRow]
    total: int = Field(description="Runs matching the filters, over all pages")
    page: int
    pages: int
    per_page: int
    filters: RunFilters
    options: FilterOptions


class DayModelCost(_Row):
    day: date
    model: str
    calls: int
    cost_usd: float | None = None


class DayServiceCost(_Row):
    day: date
    service_name: str
    calls: int
    cost_usd: float | None = None


class DayHitRate(_Row):
    day: date
    hit_rate: float | None = None
    cache_read_tokens: int = 0
    input_side_tokens: int = 0


class CauseLoss(_Row):
    cause: str
    events: int
    extra_cost_usd: float | None = None


class SourceCalls(_Row):
    source: str
    calls: int


class FleetTotals(_Row):
    calls: int = 0
    runs: int = 0
    cost_usd: float | None = Field(None, description="Unpriced calls count as 0")
    cost_uncached_usd: float | None = None
    unpriced_calls: int = Field(0, description="Calls on a model without a price")


class FleetPage(BaseModel):
    start: datetime
    end: datetime
    range: str = Field("", description="The preset asked for (7d/30d/90d), if any")
    totals: FleetTotals
    cost_by_day_model: list[DayModelCost]
    cost_by_day_service: list[DayServiceCost]
    hit_rate_by_day: list[DayHitRate]
    lost_by_cause: list[CauseLoss]
    top_runs: list[RunListRow]
    calls_by_source: list[SourceCalls]


class WhatIf(_Row):
    """Calls of a scope priced as they ran and under one scenario (store.whatif)."""

    scenario: str
    description: str = ""
    start: datetime | None = None
    end: datetime | None = None
    run: str = ""
    service: str = ""
    only_model: str = Field("", description="Only the calls on this model")
    only_candidates: bool = Field(
        False, description="Only the calls the rule of the scenario's kind counts")
    calls: int = 0
    runs: int | None = Field(None, description="Null in a finding's what-if (its "
                                               "run_ids are a sample): /api/whatif counts them")
    cost_usd: float | None = None
    whatif_cost_usd: float | None = None
    savings_usd: float | None = None


class Finding(_Row):
    """One insight (the ``insights`` relation's row) and the what-if behind its number."""

    kind: str
    scope: str
    service_name: str = ""
    model: str = ""
    run_ids: list[str] = []
    calls: int
    cost_usd: float | None = None
    savings_usd: float | None = None
    confidence: str
    detail: str
    fix: str
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    basis: str = Field("", description="How savings_usd was computed")
    whatif: WhatIf | None = Field(
        None, description="The what-if that re-prices exactly this finding's calls "
                          "(its scope, model and the calls its rule counts): the "
                          "finding's own numbers, which whatif_url and whatif_command "
                          "reproduce (null for kinds without a scenario)")
    whatif_url: str | None = Field(None, description="/api/whatif for this finding's scope")
    whatif_command: str | None = Field(
        None, description="The same what-if as a `tokentrail whatif` command line, each "
                          "argument quoted for a POSIX shell")


class InsightsPage(BaseModel):
    start: datetime
    end: datetime
    range: str = ""
    kinds: list[str]
    largest_savings_usd: float = Field(
        description="The largest single finding's savings. Findings overlap (one run can "
                    "be several kinds, one service's calls both batch and routing "
                    "candidates), so their savings do not add up and no sum is given")
    findings: list[Finding]
