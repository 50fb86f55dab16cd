"""Migration 2: the exact cost of every call, in SQL (issue 11; docs/facts.md §2).

* ``llm_call_reports`` gains what a price depends on besides tokens (betas in use,
  ``speed``, ``inference_geo``, web search / fetch counts), and the traces view fills
  them from tokentrail's span attributes. Rows stored before keep the defaults (no
  beta, standard speed, no geography, no server tools), which is what their spans said.
* ``model_prices`` holds the price table; ``model_price_versions`` reads its latest load
  tier by tier. ``model_price_lookup`` held it as the per-version arrays the first cost
  SQL read (the views frozen in migrations 2 to 4 read it; migration 5 drops it), and
  ``model_price_slots`` holds the lookup the cost SQL reads since migration 5.
  The step ``load_prices`` fills them with the prices this tokentrail ships (deliberately
  live code: prices are data, and ``Store.migrate`` re-syncs them, overrides included,
  at every start, so a later release's prices reach old stores without a migration).
* ``llm_calls`` gains the cost columns; ``cost_disagreements`` lists calls whose source
  priced them differently.

Frozen from the live definitions by ``python -m tokentrail.store.migrations freeze``,
then, before any release, extended by hand with ``model_price_slots`` (so that views
re-frozen in migrations 3 and 4 can read it). It has no ``build()`` any more: the live
traces view has moved on, so it must never be re-frozen.
"""

from __future__ import annotations

from tokentrail.store.migrations.runner import Context

NAME = "cost of every call: price table and cost columns on llm_calls"
CHECKSUM = "aa716c147df7aac4864ffbdbe59b1e882ad9769c380d4c35774075c89d88ef2e"  # written by freeze

PRICE_FACTORS = ("betas", "speed", "inference_geo", "web_search_requests",
                 "web_fetch_requests")


def load_prices(ctx: Context) -> None:
    """The packaged prices, so that the schema alone prices calls (a user's price file
    is applied by ``Store.migrate`` right after, where a bad one is reported as such);
    idempotent: a load whose digest is already there is not repeated."""
    from tokentrail.analysis import prices

    prices.sync(ctx.client, cluster=ctx.cluster)
