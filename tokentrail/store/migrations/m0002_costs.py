"""Migration 2: the exact cost of every call, in SQL (issue 11; docs/facts.md §2).

* ``llm_call_reports`` gains what a price depends on besides tokens (betas in use,
  ``speed``, ``inference_geo``, web search / fetch counts), and the traces view fills
  them from tokentrail's span attributes. Rows stored before keep the defaults (no
  beta, standard speed, no geography, no server tools), which is what their spans said.
* ``model_prices`` holds the price table; ``model_price_versions`` reads its latest load
  tier by tier, and ``model_price_lookup`` holds it as the arrays the cost columns read.
  The step ``load_prices`` fills them with the prices this tokentrail ships (deliberately
  live code: prices are data, and ``Store.migrate`` re-syncs them, overrides included,
  at every start, so a later release's prices reach old stores without a migration).
* ``llm_calls`` gains the cost columns; ``cost_disagreements`` lists calls whose source
  priced them differently.

Built by ``build()`` from the live definitions and frozen by
``python -m tokentrail.store.migrations freeze m0002_costs`` into m0002_costs.sql and
m0002_costs.cluster.sql, which are what runs. Once released, never edit or re-freeze it.
"""

from __future__ import annotations

from tokentrail.store import schema
from tokentrail.store.migrations import build as b
from tokentrail.store.migrations.runner import Context

NAME = "cost of every call: price table and cost columns on llm_calls"
CHECKSUM = "ee871c8513f1b4591623dad77593c50d3d4392cf66ce5e076912cc177838584a"  # written by freeze

PRICE_FACTORS = ("betas", "speed", "inference_geo", "web_search_requests",
                 "web_fetch_requests")


def build() -> list[b.Piece]:
    return [
        b.add_columns(schema.LLM_CALL_REPORTS, *PRICE_FACTORS),
        b.replace_materialized_view(schema.LLM_CALLS_FROM_TRACES_MV),
        b.create(schema.MODEL_PRICES),
        b.replace_view(schema.MODEL_PRICE_VERSIONS),
        b.create(schema.MODEL_PRICE_LOOKUP),
        b.replace_view(schema.LLM_CALLS),
        b.replace_view(schema.COST_DISAGREEMENTS),
        b.python_step("load_prices"),
    ]


def load_prices(ctx: Context) -> None:
    """The packaged prices, so that the schema alone prices calls (a user's price file
    is applied by ``Store.migrate`` right after, where a bad one is reported as such);
    idempotent: a load whose digest is already there is not repeated."""
    from tokentrail.analysis import prices

    prices.sync(ctx.client, cluster=ctx.cluster)
