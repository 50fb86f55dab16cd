"""tokentrail's analysis layer: prices and cost, cache events, insights.

Data flows one way: raw tables -> ``llm_calls`` -> analysis -> pages and CLI. The
analysis is SQL over ``llm_calls`` wherever SQL can say it, so a team running a stock
OpenTelemetry Collector into a ClickHouse server gets the same numbers as
``tokentrail serve`` (docs/design.md, "The analysis layer").
"""
