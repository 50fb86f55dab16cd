"""Migration 5: the cost SQL reads a lookup of final rates (issue 11; bench/cost.py).

Every view that prices calls (``llm_calls``; ``cache_events`` and ``insights``, which
embed the same SQL) is re-created with the cost SQL of
``tokentrail/analysis/pricing_sql.py``: per call one LowCardinality slot (price version,
mode, tier) and direct lookups in ``model_price_slots``, where every multiplier was
applied once per price load instead of per row. ``model_price_slots`` is created by
migration 2 on new stores and here on older ones, and filled by ``load_prices``;
``model_price_lookup``, which only the views replaced here read, is dropped.

Built by ``build()`` from the live definitions and frozen by
``python -m tokentrail.store.migrations freeze m0005_cost_slots`` into its SQL files,
which are what runs. Once released, never edit or re-freeze it.
"""

from __future__ import annotations

from tokentrail.store import schema
from tokentrail.store.migrations import build as b
from tokentrail.store.migrations.model import CLUSTER_TOKEN
from tokentrail.store.migrations.runner import Context

NAME = "cost SQL over model_price_slots (final rates per version, mode and tier)"
CHECKSUM = "eb923aa6f0f3b72c10a0715364eeb51407fcac247fcf6b21726bc0cd7b9d9ee3"  # written by freeze

_DROP_LOOKUP = b.Piece(
    ("DROP TABLE IF EXISTS model_price_lookup",),
    (f"DROP TABLE IF EXISTS model_price_lookup ON CLUSTER {CLUSTER_TOKEN}",
     f"DROP TABLE IF EXISTS model_price_lookup_local ON CLUSTER {CLUSTER_TOKEN}"),
)


def build() -> list[b.Piece]:
    return [
        b.create(schema.MODEL_PRICE_SLOTS),
        b.python_step("load_prices"),
        b.replace_view(schema.LLM_CALLS),
        b.replace_view(schema.CACHE_EVENTS),
        b.replace_view(schema.INSIGHTS),
        _DROP_LOOKUP,
    ]


def load_prices(ctx: Context) -> None:
    """Fill model_price_slots for the prices already loaded (or load the packaged ones);
    idempotent."""
    from tokentrail.analysis import prices

    prices.sync(ctx.client, cluster=ctx.cluster)
