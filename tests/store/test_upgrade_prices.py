"""Migration 10 on a store that ``serve`` kept before it: runs whose cache events and
insight facts were stored without a price load (state rows read ``price_load`` 0) are
not current after the upgrade, so the views judge them on read (and read the same,
the prices being the same), and serve's next passes store them again at the latest
load; then nothing is left to judge."""

from __future__ import annotations

import datetime as dt

from tests.analysis import calls as hand
from tests.store.stores import ingest_sample
from tokentrail.analysis import cache_events_store as ces
from tokentrail.analysis import insights_store
from tokentrail.analysis.cache_events import QUERY_SETTINGS
from tokentrail.store import Store, migrations
from tokentrail.store.migrations import runner

BEFORE = 9  # the last migration whose state tables had no price load
EVER = (dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc),
        dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc))


def _ttl_run(store: Store) -> None:
    """A run with one cache event (the sample's runs have none): its 5-minute cache
    expired before turn 6, which wrote it again."""
    calls = hand.loop(6)
    calls[5].at = calls[4].at + 400
    calls[5].write_5m += calls[5].read
    calls[5].read = 0
    hand.insert(store, "upgrade-ttl-run", calls)


def _uncached_run(store: Store) -> None:
    """A run that sends the same large prefix uncached twelve times: an insights
    finding (uncached_prefix), which the sample has none of."""
    hand.insert(store, "upgrade-uncached-run",
                [hand.Call(k, 30.0 * k, uncached=40_000 + 500 * k) for k in range(1, 13)])


def _store_as_before(store: Store) -> list[str]:
    """What serve's passes before migration 10 left: every run's events and facts
    stored, and the run marked done through its last insert (no price load then).
    Returns the runs."""
    runs = [r["run_id"] for r in store.query("SELECT DISTINCT run_id FROM cache_run_inserts")]
    values = {"runs": runs, "version": 1}
    store.client.command(ces.refresh_insert_events(), parameters=values,
                         settings=QUERY_SETTINGS)
    store.client.command(insights_store.refresh_insert_facts(), parameters=values,
                         settings=QUERY_SETTINGS)
    for state in (ces.RUN_STATE, insights_store.RUN_STATE):
        store.client.command(
            f"INSERT INTO {state} (run_id, analysed_through, version) "
            "SELECT run_id, max(last_insert), 1 FROM cache_run_inserts GROUP BY run_id")
    return runs


def _dirty(store: Store, module) -> set[str]:
    return {r["run_id"] for r in store.query(module.dirty_runs_select())}


def _events(store: Store, table: str) -> list[tuple]:
    return sorted((r["run_id"], r["call_id"], r["cause"], r["extra_cost_usd"])
                  for r in store.query(f"SELECT * FROM {table}"))


def test_runs_stored_before_migration_10_are_judged_once_more(tmp_path):
    store = Store.open(f"chdb://{tmp_path / 'data'}", migrate=False)
    try:
        before = [m for m in migrations.all_migrations() if m.version <= BEFORE]
        runner.migrate(store.client, None, before)
        store.sync_prices()
        ingest_sample(store)
        _ttl_run(store)
        _uncached_run(store)
        runs = _store_as_before(store)
        assert runs, "the sample has no runs"
        stored = _events(store, f"{ces.STORED} FINAL")
        assert stored, "the sample has no cache events to store"

        assert store.migrate() == [m.version for m in migrations.all_migrations()
                                   if m.version > BEFORE]
        latest = store.query("SELECT max(load_id) AS l FROM model_price_slots")[0]["l"]
        assert latest > 0
        # Stored without a load: judged on read, and the view reads as before.
        assert _dirty(store, ces) == set(runs)
        assert _dirty(store, insights_store) == set(runs)
        assert _events(store, ces.VIEW) == stored
        assert not store.query(ces.run_is_current_select(), {"run": runs[0]})[0]["current"]
        on_read = store.insights(*EVER)
        assert on_read, "the sample has no findings"

        assert store.refresh_cache_events(margin_seconds=0, max_runs=10_000) == len(runs)
        assert insights_store.refresh(store, margin_seconds=0, max_runs=10_000) == len(runs)
        assert _dirty(store, ces) == set() and _dirty(store, insights_store) == set()
        assert _events(store, ces.VIEW) == stored
        assert store.query(ces.run_is_current_select(), {"run": runs[0]})[0]["current"]
        assert store.insights(*EVER) == on_read
        for state in (ces.RUN_STATE, insights_store.RUN_STATE):
            loads = store.query(f"SELECT DISTINCT price_load FROM {state} FINAL")
            assert loads == [{"price_load": latest}], state
    finally:
        store.close()
