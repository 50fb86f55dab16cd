"""Migration 4: insights: the findings of the last 30 days, judged on read (issue 13).

* ``insights``: a view over ``llm_calls`` and ``cache_events`` (tokentrail/analysis/
  insights.py, insights_sql.py) with the thresholds of the insights written in. A view,
  not a table kept by ``serve``: it is current the moment calls arrive and complete
  whatever wrote them, with nothing to keep; its cost (bench/insights.py) is judging
  every call of the 30 days on read.

Built by ``build()`` from the live definitions and frozen by
``python -m tokentrail.store.migrations freeze m0004_insights`` into m0004_insights.sql and
m0004_insights.cluster.sql, which are what runs. Once released, never edit or re-freeze it.
"""

from __future__ import annotations

from tokentrail.store import schema
from tokentrail.store.migrations import build as b

NAME = "insights: the findings of the last 30 days, judged on read"
CHECKSUM = "7a5bf6f11d79a234b3b3edf4aa4659e0de530135c53c7c94993df81c40a48cef"  # written by freeze


def build() -> list[b.Piece]:
    return [
        b.replace_view(schema.INSIGHTS),
    ]
