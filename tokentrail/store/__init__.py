"""The store: the ClickHouse client factory, schema and migrations, read queries.

Needs the ``server`` extra (clickhouse-connect with chDB).
"""

from tokentrail.store.database import RunSummary, Store, StoreError, connect, redact_dsn

__all__ = ["RunSummary", "Store", "StoreError", "connect", "redact_dsn"]
