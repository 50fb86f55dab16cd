"""One call's page reads its reports by key (tokentrail/store/ui_reads.py call_detail),
not through FINAL: it must keep the report FINAL would keep. A module of its own: the
embedded engine holds one data directory per process, and test_ui_reads' store is
module-scoped."""

from __future__ import annotations

from tests.analysis.calls import Call, insert, loop
from tokentrail.store import Store


def test_call_detail_keeps_the_report_final_would_keep(tmp_path) -> None:
    """Two reports of one call in two parts (not merged yet): the call page shows the
    report of the highest source_rank, as llm_calls' FINAL does, whichever came last."""
    store = Store.open(f"chdb://{tmp_path / 'data'}")
    try:
        first, second = loop(2)
        low = Call(**{**second.__dict__, "source": "openllmetry", "uncached": 777,
                      "call_id": "two-reports"})
        second.call_id = "two-reports"
        insert(store, "reported", [first, second])
        insert(store, "reported", [low])  # a later insert: its own part
        parts = store.query("SELECT count() AS n FROM system.parts WHERE active "
                            "AND table = 'llm_call_reports' AND database = currentDatabase()")
        assert parts[0]["n"] >= 2, "the reports must sit in separate parts"
        detail = store.call_detail("two-reports")
        want = store.query("SELECT * FROM llm_calls WHERE call_id = 'two-reports'")[0]
        assert (detail["call"]["source"], detail["call"]["input_tokens"]) == (
            want["source"], want["input_tokens"]) == ("tokentrail", second.uncached)
        assert detail["previous"]["call_id"] == "reported-1"
    finally:
        store.close()
