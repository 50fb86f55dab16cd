"""Migration 1: the schema of release 0.1.0, frozen in ``m0001_initial.sql`` and
``m0001_initial.cluster.sql`` exactly as ``tokentrail schema [--cluster NAME]`` printed
it at commit 123602f (the stores in the field were created by it). It has no
``build()``: it predates the building blocks and must never be re-frozen."""

NAME = "raw OpenTelemetry tables and llm_calls"
CHECKSUM = "07a373848c9b6da9e82cde23137a8f53f94bc33a03e47f104240a7d64e12d075"
