"""Migration 8: the large blocks of every call's prefix (issue 13, ``context_dead_weight``).

* ``llm_call_reports`` gains ``prefix_large_blocks``: the hash, flattened position and
  estimated tokens of each message block of at least 4096 tokens anywhere in the prefix
  (the largest 16), from tokentrail's ``tokentrail.prefix.large_blocks`` span attribute
  (instrumentation/large_blocks.py). The per-block arrays hold only the last 20 blocks,
  so a big tool result sent many turns ago was out of view.
* the traces view fills it; ``llm_calls`` is re-created so that it shows it.

Rows stored before keep an empty array: their spans did not carry the attribute, so
there is nothing to re-derive.

Built by ``build()`` from the live definitions and frozen by
``python -m tokentrail.store.migrations freeze m0008_large_blocks`` into
m0008_large_blocks.sql and m0008_large_blocks.cluster.sql, which are what runs. Once
released, never edit or re-freeze it.
"""

from __future__ import annotations

from tokentrail.store import schema
from tokentrail.store.migrations import build as b

NAME = "llm_calls: the large blocks anywhere in each call's prefix"
CHECKSUM = "ad34670875cf0ea1a33b42e5191bc140ae6ab4adf3636576200e1d02960f6527"  # written by freeze


def build() -> list[b.Piece]:
    return [
        b.add_columns(schema.LLM_CALL_REPORTS, "prefix_large_blocks"),
        b.replace_materialized_view(schema.LLM_CALLS_FROM_TRACES_MV),
        b.replace_view(schema.LLM_CALLS),
    ]
