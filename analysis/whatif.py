"""What-if repricing of a run, a service or the fleet over a time range: the calls priced
as they were and under one alternative, by the engine that gives the insights their
``savings_usd`` (:mod:`.insights_sql`), so a what-if and an insight never disagree.

A finding is the calls its rule selects, of one service and model (or of one run and
model), not every call of its scope: ``only_model`` and ``only_candidates`` narrow a
what-if to exactly those calls (:data:`CANDIDATES`), so the what-if of a finding's
scenario, scope, model and candidates is the finding's ``calls``, ``cost_usd`` and
``savings_usd`` (over the same calls: insights count a run's day when its first call
lies in the range, a what-if every call in ``[start, end)``; ranges of whole UTC days
that no run crosses give both the same calls).
"""

from __future__ import annotations

from typing import Any

from . import insights_dead_weight as dead_weight
from .insights import DEFAULTS
from .insights_sql import calls_select, range_calls

# scenario -> (the per-call cost column under it, what it means)
SCENARIOS: dict[str, tuple[str, str]] = {
    "batch": ("cost_batch", "every call not already batched sent through Message Batches "
                            "(the price table's batch multiplier)"),
    "model": ("cost_routed", "every call on --model (that model's rates on the call's day)"),
    "unread_writes": ("alt_unread", "cache writes that no call of the service and model "
                                    "read within their TTL sent as uncached input"),
    "ttl_1h": ("alt_ttl_1h", "5m cache writes as 1h writes; a re-write after a 5-60 "
                             "minute gap read instead"),
    "cache_prefix": ("alt_cache_prefix", "runs that cached nothing cache each prompt and "
                                         "read the previous one's within 5 minutes"),
    "cache_messages": ("alt_cache_messages", "runs that cache only tools/system also "
                                             "cache the conversation (last message)"),
    "compaction": ("alt_compaction", "compaction to --compact-to tokens once input passes "
                                     "--compact-above, the summarising call included"),
    dead_weight.WHATIF_SCENARIO: (
        "alt_dead_weight", f"every block of context_dead_weight replaced by a "
                           f"{dead_weight.SUMMARY_TOKENS}-token summary once it was used "
                           f"(insights_dead_weight.py)"),
}


# scenario -> the calls the rule of its kind counts (``only_candidates``), per call of
# layer 3 (:mod:`.insights_sql`). The service-scoped kinds count some calls of a
# service and model (analysis/insights.py, _CANDIDATES and the FACTS they sum):
# batch_candidate the batchable calls of single-call runs, model_routing_candidate the
# mechanical calls, ttl_too_short the calls that write 5m entries, unread_cache_writes
# the unread writes. The run-scoped kinds count every call of a run (on its model) the
# rule admits; per call that is the run-wide part of the rule (nothing cached / a prefix
# cached / an input past the compaction threshold). dead_weight: the calls that carry a
# dead block (:func:`_dead_weight_select`).
CANDIDATES: dict[str, str] = {
    "batch": "run_calls = 1 AND batchable",
    "model": "mechanical",
    "ttl_1h": "cache_write_5m_tokens > 0",
    "unread_writes": "unread",
    "cache_prefix": "run_cached = 0",
    "cache_messages": "run_cached > 0",
    "compaction": "compact_ns < 9223372036854775807",
}

# The scope of a what-if (empty parameters select everything).
_SCOPE = """({run:String} = '' OR run_id = {run:String})
  AND ({service:String} = '' OR service_name = {service:String})
  AND ({only_model:String} = '' OR model = {only_model:String})"""


class WhatIfError(ValueError):
    """A scenario or scope that does not exist."""


def whatif_select(scenario: str) -> str:
    """Totals of ``scenario`` over the calls of ``[start, end)`` that the parameters
    ``run``, ``service`` and ``only_model`` select (empty: all), and with
    ``only_candidates`` only those the rule of the scenario's kind counts
    (:data:`CANDIDATES`). Parameters: those of :data:`~.insights_sql.PARAMETERS` plus
    these (:func:`parameters`)."""
    if scenario not in SCENARIOS:
        raise WhatIfError(f"unknown scenario {scenario!r}; one of {', '.join(SCENARIOS)}")
    if scenario == dead_weight.WHATIF_SCENARIO:
        return _dead_weight_select()
    column = SCENARIOS[scenario][0]
    return f"""
SELECT count() AS calls,
    uniqExact(run_id) AS runs,
    sum(cost) AS cost_usd,
    sum({column}) AS whatif_cost_usd,
    cost_usd - whatif_cost_usd AS savings_usd
FROM ({calls_select(range_calls())})
WHERE {_SCOPE}
  AND (NOT {{only_candidates:Bool}} OR ({CANDIDATES[scenario]}))"""  # noqa: S608


def _dead_weight_select() -> str:
    """``dead_weight``: the per-call SQL of the insight (:mod:`.insights_dead_weight`)
    gives the savings; the totals are every priced call of the scope, or with
    ``only_candidates`` the calls that carry a dead block (the finding's calls)."""
    start, end = "{start:DateTime64(9)}", "{end:DateTime64(9)}"
    return f"""
SELECT if({{only_candidates:Bool}}, dead.n, every.n) AS calls,
    if({{only_candidates:Bool}}, dead.r, every.r) AS runs,
    if({{only_candidates:Bool}}, dead.total, every.total) AS cost_usd,
    cost_usd - dead.saved AS whatif_cost_usd,
    dead.saved AS savings_usd
FROM (
    SELECT toUInt64(count()) AS n, toUInt64(uniqExact(run_id)) AS r,
        sum(assumeNotNull(cost_usd)) AS total
    FROM llm_calls
    WHERE timestamp >= {start} AND timestamp < {end} AND cost_usd IS NOT NULL AND {_SCOPE}
) AS every
CROSS JOIN (
    SELECT toUInt64(count()) AS n, toUInt64(uniqExact(run_id)) AS r, sum(cost) AS total,
        sum(cost - alt_dead_weight) AS saved
    FROM ({dead_weight.calls_select(start, end)})
    WHERE {_SCOPE}
) AS dead"""  # noqa: S608


def parameters(start: Any, end: Any, *, run: str = "", service: str = "",
               only_model: str = "", only_candidates: bool = False,
               **overrides: Any) -> dict[str, Any]:
    """The query parameters of :func:`whatif_select` (defaults of the insights)."""
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise WhatIfError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    values = {**DEFAULTS, **{k: v for k, v in overrides.items() if v is not None}}
    return {**values, "start": start, "end": end, "run": run, "service": service,
            "only_model": only_model or "", "only_candidates": bool(only_candidates)}
