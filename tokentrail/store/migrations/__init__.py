"""Versioned, frozen schema migrations: how every store, old or new, reaches the schema.

A store records the versions it has in ``tokentrail_schema_migrations``;
:meth:`tokentrail.store.Store.open` (``tokentrail serve``) and ``tokentrail schema
--apply [--cluster NAME]`` apply the missing ones in order. A fresh store runs them all,
an old one only the new ones, so both end with the same schema and the old one keeps
its rows.

Rules
-----
* **Frozen.** Migration N is ``mNNNN_<slug>.py`` plus ``mNNNN_<slug>.sql`` (one server /
  chDB) and ``mNNNN_<slug>.cluster.sql`` (``ON CLUSTER``; Replicated local tables and
  Distributed tables over them). Only the SQL files run. Once released they never
  change: ``tests/store/test_schema.py`` holds the checksums of released migrations,
  the module declares its ``CHECKSUM``, and each store records the checksum it ran (a
  mismatch is logged as a warning).
* **Ordered.** By version; a migration is recorded only after all its steps ran.
* **Idempotent, safe to interrupt.** Every step can run twice: after a crash
  half-way the whole migration runs again and completes. The building blocks in
  :mod:`~tokentrail.store.migrations.build` are idempotent by construction.
* **Same on a server and a cluster.** Each block renders both.

How to add migration N
----------------------
1. Change the live definitions: tables/views in :mod:`tokentrail.store.schema` (add
   new objects to ``LIVE_OBJECTS``), view SELECTs in :mod:`tokentrail.store.normalize`.
   ``tests/store/test_schema.py::test_migrations_build_the_live_schema`` now fails: the
   stores would not get the change.
2. ``python -m tokentrail.store.migrations new --version N <slug> "what it does"``
   writes ``mNNNN_<slug>.py``. Take the next free number (2 and 3 are reserved for the
   cost and cache-events work).
3. In its ``build()``, list the changes, in the order they must run::

       b.create(schema.PRICES)                           # new table / MV / view
       b.python_step("load_prices")                      # def load_prices(ctx): ...
       b.add_columns(schema.LLM_CALL_REPORTS, "cost_usd")
       b.replace_materialized_view(schema.LLM_CALLS_FROM_TRACES_MV)  # SELECT changed
       b.replace_view(schema.LLM_CALLS)                  # plain view (also for SELECT *)
       b.rederive(schema.LLM_CALLS_FROM_TRACES_MV)       # recompute old rows
       b.backfill("cache_events", [...], "SELECT ...", key="call_id")

   Add the target's columns before the materialized view that writes them, and
   re-create every plain view that reads a changed table. A Python step is
   ``def name(ctx: runner.Context) -> None`` in the same module; it must be idempotent
   and must not call live code that will change (freeze data files beside it).
4. ``python -m tokentrail.store.migrations freeze mNNNN_<slug>`` writes the two SQL
   files and the module's ``CHECKSUM``. Read them; commit all three.
5. Run ``pytest tests/store``: ``test_migrations_build_the_live_schema`` passes again,
   and ``tests/store/test_upgrade.py`` checks the new migration on a store of the last
   release with data in it. When the version is released, add its checksum to
   ``RELEASED_CHECKSUMS`` in ``tests/store/test_schema.py``.
"""

from tokentrail.store.migrations.model import Migration, MigrationFileError, PythonCall
from tokentrail.store.migrations.registry import all_migrations
from tokentrail.store.migrations.render import render, statements
from tokentrail.store.migrations.runner import Context, detect_cluster, migrate

__all__ = [
    "Context",
    "Migration",
    "MigrationFileError",
    "PythonCall",
    "all_migrations",
    "detect_cluster",
    "migrate",
    "render",
    "statements",
]
