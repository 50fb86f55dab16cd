"""What-if repricing of a run, a service or the fleet over a time range: the calls priced
as they were and under one alternative, by the engine that gives the insights their
``savings_usd`` (:mod:`.insights_sql`), so a what-if and an insight never disagree.
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


class WhatIfError(ValueError):
    """A scenario or scope that does not exist."""


def whatif_select(scenario: str) -> str:
    """Totals of ``scenario`` over the calls of ``[start, end)`` that the parameters
    ``run`` and ``service`` select (empty: all). Parameters: those of
    :data:`~.insights_sql.PARAMETERS` plus ``run`` and ``service``."""
    if scenario not in SCENARIOS:
        raise WhatIfError(f"unknown scenario {scenario!r}; one of {', '.join(SCENARIOS)}")
    if scenario == dead_weight.WHATIF_SCENARIO:
        return dead_weight.whatif_select()  # its own per-call SQL, shared with the insight
    column = SCENARIOS[scenario][0]
    return f"""
SELECT count() AS calls,
    uniqExact(run_id) AS runs,
    sum(cost) AS cost_usd,
    sum({column}) AS whatif_cost_usd,
    cost_usd - whatif_cost_usd AS savings_usd
FROM ({calls_select(range_calls())})
WHERE ({{run:String}} = '' OR run_id = {{run:String}})
  AND ({{service:String}} = '' OR service_name = {{service:String}})"""  # noqa: S608


def parameters(start: Any, end: Any, *, run: str = "", service: str = "",
               **overrides: Any) -> dict[str, Any]:
    """The query parameters of :func:`whatif_select` (defaults of the insights)."""
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise WhatIfError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    values = {**DEFAULTS, **{k: v for k, v in overrides.items() if v is not None}}
    return {**values, "start": start, "end": end, "run": run, "service": service}
