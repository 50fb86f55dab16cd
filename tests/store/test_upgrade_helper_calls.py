"""Migration 11 on a store that ``serve`` kept before it: events stored under the old
cache-event rules (a helper call with a prompt of its own judged ``tools_changed``) are
judged again after the upgrade, in the ``cache_events`` view, the stored table and the
run rollup."""

from __future__ import annotations

import datetime as dt

from tests.analysis.calls import START, Call, insert, loop
from tokentrail.analysis import cache_events_store as ces
from tokentrail.store import Store, migrations
from tokentrail.store.migrations import runner


def test_migration_11_judges_runs_stored_under_the_old_rules_again(tmp_path) -> None:
    """A store that serve kept before migration 11 holds the helper call as the
    tools_changed event the old rules found, counted in the run rollup too; after the
    upgrade the run is judged again: no event on read, and none stored (a tombstone)
    or counted once serve's passes have run."""
    store = Store.open(f"chdb://{tmp_path / 'data'}", migrate=False)
    try:
        runner.migrate(store.client, None,
                       [m for m in migrations.all_migrations() if m.version <= 10])
        store.sync_prices()
        run_id = "helped-before-11"
        calls = loop(6)
        helper = Call(5, calls[4].at - 5, uncached=300, tools="", system="S-helper",
                      messages=["helper-q"], prefix_tokens=300, change="tools", change_block=0)
        for c in calls[4:]:
            c.turn += 1
        calls.insert(4, helper)
        insert(store, run_id, calls)
        old = {"run_id": run_id, "call_id": f"{run_id}-5", "turn": 5,
               "timestamp": START + dt.timedelta(seconds=helper.at), "model": helper.model,
               "service_name": "agent", "cause": "tools_changed", "evidence": "prefix",
               "changed_message": None, "changed_block": 0, "changed_char": None,
               "changed_params": [], "gap_seconds": 5.0, "missed_tokens": 300,
               "extra_cost_usd": 0.00081, "version": 1, "is_deleted": 0,
               "detail": "the tool definitions changed at tool 0; 300 cached tokens not read"}
        store.insert(ces.STORED, [[old[c] for c in ces.STORED_COLUMNS]], ces.STORED_COLUMNS)
        store.client.command(
            f"INSERT INTO {ces.RUN_STATE} (run_id, analysed_through, price_load, version) "
            "SELECT run_id, max(last_insert), (SELECT max(load_id) FROM model_price_slots), 1 "
            "FROM cache_run_inserts GROUP BY run_id")
        store.refresh_run_rollup(margin_seconds=0, max_runs=100)

        def view() -> list[str]:
            return [r["cause"] for r in store.query(
                "SELECT cause FROM cache_events WHERE run_id = {r:String}", {"r": run_id})]

        def rolled_up_events() -> int:
            return store.query("SELECT sum(events) AS n FROM run_rollup FINAL "
                               "WHERE run_id = {r:String}", {"r": run_id})[0]["n"]

        assert view() == ["tools_changed"] and rolled_up_events() == 1  # as serve left it
        assert store.migrate()[0] == 11  # and any later migration
        for state in (ces.RUN_STATE, "run_rollup_runs"):
            assert store.query(f"SELECT count() AS n FROM {state}")[0]["n"] == 0, state
        assert view() == [] and store.cache_events(run_id) == []  # judged on read
        store.refresh_cache_events(margin_seconds=0, max_runs=100)
        store.refresh_run_rollup(margin_seconds=0, max_runs=100)
        assert view() == [] and rolled_up_events() == 0
        assert store.query(f"SELECT count() AS n FROM {ces.STORED} FINAL "
                           "WHERE run_id = {r:String}", {"r": run_id})[0]["n"] == 0
    finally:
        store.close()
