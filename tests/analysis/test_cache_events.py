"""The cache-event rules, one at a time, on rows written by hand (tests/analysis/calls.py).

Each test is a run of its own in one store; it asserts the exact (turn, cause) set of
the run, judged on read and, after a refresh pass, read back from the stored table
and from the ``cache_events`` view: the three must agree.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator

import pytest

from tests.analysis.calls import COLUMNS, START, Call, insert, loop
from tokentrail.store import Store

_runs = itertools.count(1)


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Iterator[Store]:
    store = Store.open(f"chdb://{tmp_path_factory.mktemp('cache-events') / 'data'}")
    try:
        yield store
    finally:
        store.close()


def judged(db: Store, calls: list[Call]) -> list[dict]:
    """Insert a run, return its events judged on read; check that the stored table and
    the view say the same after a refresh pass."""
    run_id = f"run-{next(_runs)}"
    insert(db, run_id, calls)
    on_read = db.cache_events(run_id)
    assert db.query("SELECT count() AS n FROM cache_events_stored WHERE run_id = {r:String}",
                    {"r": run_id})[0]["n"] == 0
    db.refresh_cache_events(margin_seconds=0, max_runs=10_000)
    assert db.cache_events(run_id) == on_read, "stored events differ from judged ones"
    view = db.query("SELECT * FROM cache_events WHERE run_id = {r:String} "
                    "ORDER BY timestamp, call_id", {"r": run_id})
    assert view == on_read, "the view differs from the events judged on read"
    return on_read


def causes(events: list[dict]) -> list[tuple[int, str]]:
    return [(e["turn"], e["cause"]) for e in events]


# --- no false alarms ---------------------------------------------------------------

def test_first_call_writing_the_cache_is_not_an_event(db) -> None:
    assert judged(db, loop(1)) == []


def test_a_clean_loop_has_no_event_over_60_turns(db) -> None:
    assert judged(db, loop(60)) == []


def test_a_revert_is_one_event(db) -> None:
    calls = loop(8)
    total5 = calls[4].read + calls[4].write_5m
    # turn 5 changes the system prompt: nothing after the tools can be read
    calls[4] = Call(5, calls[4].at, read=0, write_5m=total5, uncached=0, system="S2",
                    messages=calls[4].messages, breakpoints=calls[4].breakpoints,
                    change="system", change_block=1, change_char=17_400, hint="timestamp")
    # turn 6 restores it and reads what turn 4 cached
    cached4 = calls[3].read + calls[3].write_5m
    total6 = calls[5].read + calls[5].write_5m
    calls[5] = Call(6, calls[5].at, read=cached4, write_5m=total6 - cached4, uncached=0,
                    messages=calls[5].messages, breakpoints=calls[5].breakpoints,
                    change="system", change_block=1, change_char=17_400, hint="timestamp")
    events = judged(db, calls)
    assert causes(events) == [(5, "system_changed")]
    event = events[0]
    assert event["evidence"] == "prefix"
    assert event["missed_tokens"] == cached4
    assert (event["changed_block"], event["changed_char"]) == (1, 17_400)
    assert "char 17,400" in event["detail"] and "looks like a timestamp" in event["detail"]
    # Sonnet 4.5: 5m write $3.75, read $0.30 per million (docs/facts.md §2)
    assert event["extra_cost_usd"] == pytest.approx(cached4 * (3.75 - 0.30) / 1e6)


def test_a_reverted_message_edit_is_one_event(db) -> None:
    calls = loop(8)
    edited = list(calls[6].messages)
    edited[2] = "m2-edited"
    cached2 = calls[1].read + calls[1].write_5m  # through message 2 (turn 2's prompt)
    total7 = calls[6].read + calls[6].write_5m
    calls[6] = Call(7, calls[6].at, read=cached2, write_5m=total7 - cached2, uncached=0,
                    messages=edited, breakpoints=calls[6].breakpoints, change="messages",
                    change_message=2, change_block=4, change_char=1)
    cached6 = calls[5].read + calls[5].write_5m
    total8 = calls[7].read + calls[7].write_5m
    calls[7] = Call(8, calls[7].at, read=cached6, write_5m=total8 - cached6, uncached=0,
                    messages=calls[7].messages, breakpoints=calls[7].breakpoints,
                    change="messages", change_message=2, change_block=4, change_char=1)
    events = judged(db, calls)
    assert causes(events) == [(7, "messages_changed")]
    assert events[0]["changed_message"] == 2
    assert events[0]["missed_tokens"] == cached6 - cached2


def _helper(turn: int, at: float, tag: str) -> Call:
    """A small helper call the agent makes mid-task (a summariser, a classifier): a
    prompt of its own (other tools and system, its own single message), nothing cached.
    As the instrumentation sees it after a main-loop call: tools changed at tool 0."""
    return Call(turn, at, uncached=300, tools="", system=f"S-{tag}", messages=[f"{tag}-q"],
                prefix_tokens=300, change="tools", change_block=0)


def _with_helpers(calls: list[Call], helpers: dict[int, list[Call]]) -> list[Call]:
    """The main loop's calls with helper calls inserted before the given main turns,
    turns renumbered in order."""
    out = []
    for c in calls:
        out.extend(helpers.get(c.turn, []))
        out.append(c)
    for turn, c in enumerate(out, 1):
        c.turn = turn
    return out


def test_helper_calls_with_a_prompt_of_their_own_are_no_event(db) -> None:
    """A clean 30-turn loop (60 messages: past the 20-message window) with a helper call
    every 5 turns, one of them on another model and two back to back: the helpers share
    no block with what the run cached, so nothing they sent could have been read; the
    main loop's next turns are judged against the main loop and read everything."""
    calls = loop(30)
    helpers = {t: [_helper(0, calls[t - 1].at - 5, f"h{t}")] for t in range(5, 31, 5)}
    helpers[10][0].model = "claude-haiku-4-5"
    helpers[10][0].change = "model"
    helpers[20].append(_helper(0, calls[19].at - 3, "h20b"))
    helpers[20][1].change, helpers[20][1].change_block = "system", 0  # against the helper
    assert judged(db, _with_helpers(calls, helpers)) == []


def test_the_main_loop_is_judged_against_itself_around_a_caching_helper(db) -> None:
    """A helper that caches its own (large) system prompt, then a main turn whose reads
    fell: the miss is the main loop's (unexplained, the main loop's cache not read), not
    a tools change against the helper."""
    calls = loop(6)
    helper = _helper(0, calls[4].at - 5, "big")
    helper.uncached, helper.write_5m, helper.breakpoints, helper.ttls = 100, 2000, [0], ["5m"]
    cached4 = calls[3].read + calls[3].write_5m
    calls[4].read, calls[4].write_5m = 3000, calls[4].read + calls[4].write_5m - 3000
    events = judged(db, _with_helpers(calls, {5: [helper]}))
    assert causes(events) == [(6, "unexplained")]
    assert events[0]["missed_tokens"] == cached4 - 3000


def test_a_system_change_at_block_0_of_the_same_conversation_is_an_event(db) -> None:
    """No tools, so the system prompt is block 0; the conversation goes on (its messages
    agree, though the 20-message window no longer holds message 0): still an event."""
    calls = loop(15)
    for c in calls:
        c.tools = ""
    c = calls[12]
    calls[12] = Call(13, c.at, read=0, write_5m=c.read + c.write_5m, uncached=0, tools="",
                     system="S2", messages=c.messages, breakpoints=c.breakpoints,
                     change="system", change_block=0, change_char=12)
    events = judged(db, calls)
    assert causes(events) == [(13, "system_changed")]
    assert events[0]["missed_tokens"] == calls[11].read + calls[11].write_5m
    assert events[0]["changed_block"] == 0


# --- one cause each ------------------------------------------------------------------

def _changed_at_turn_4(db, **change) -> dict:
    calls = loop(5)
    c = calls[3]
    total = c.read + c.write_5m
    kept = change.pop("read", 0)
    fields = {"messages": c.messages, "breakpoints": c.breakpoints, **change}
    calls[3] = Call(4, c.at, read=kept, write_5m=total - kept, uncached=0, **fields)
    events = judged(db, calls)
    assert [e["turn"] for e in events] == [4]
    return events[0]


def test_tools_changed(db) -> None:
    event = _changed_at_turn_4(db, tools="T2", change="tools", change_block=0,
                               hint="reordered")
    assert event["cause"] == "tools_changed" and "reordered" in event["detail"]


def test_params_changed(db) -> None:
    event = _changed_at_turn_4(db, params="P2", change="params",
                               change_params=["tool_choice"], read=3000)
    assert event["cause"] == "params_changed"
    assert event["changed_params"] == ["tool_choice"]
    assert event["missed_tokens"] == 200 * 5  # what turn 3 cached after the system


def test_model_changed(db) -> None:
    event = _changed_at_turn_4(db, model="claude-opus-4-1", params="P-opus", change="model")
    assert event["cause"] == "model_changed"
    assert "claude-sonnet-4-5 to claude-opus-4-1" in event["detail"]


def test_messages_changed(db) -> None:
    event = _changed_at_turn_4(db, messages=["m0", "x", "m2", "m3", "m4", "m5", "m6"],
                               change="messages", change_message=1, change_block=3, read=3200)
    assert (event["cause"], event["changed_message"]) == ("messages_changed", 1)


def test_a_replaced_conversation_is_messages_changed(db) -> None:
    """Compaction: the messages replaced by a summary (message 0 changed)."""
    calls = loop(5)
    c = calls[4]
    calls[4] = Call(5, c.at, read=3000, write_5m=700, uncached=0, messages=["summary", "q"],
                    breakpoints=[1, 3], change="messages", change_message=0, change_block=2)
    events = judged(db, calls)
    assert causes(events) == [(5, "messages_changed")]
    assert "replaced from its first message" in events[0]["detail"]


def test_parallel_fan_out_shares_only_the_system_prompt(db) -> None:
    """Three different questions sent at once with the same cached system prompt: the
    second and third could have read the system prompt only (docs/facts.md §1 rule 6)."""
    calls = [Call(t, 0.1 * t, write_5m=3300,
                  uncached=0, messages=[f"q{t}"], breakpoints=[1, 2], duration=5.0,
                  block_tokens=[3000, 300], prefix_tokens=3300,
                  change="messages" if t > 1 else "", change_message=0 if t > 1 else None,
                  change_block=2 if t > 1 else None) for t in (1, 2, 3)]
    events = judged(db, calls)
    assert causes(events) == [(2, "concurrent_requests"), (3, "concurrent_requests")]
    assert [e["missed_tokens"] for e in events] == [3000, 3000]


def test_ttl_expired(db) -> None:
    calls = loop(4)
    calls[3].at = calls[2].at + 301
    calls[3].write_5m += calls[3].read
    calls[3].read = 0
    events = judged(db, calls)
    assert causes(events) == [(4, "ttl_expired")]
    assert events[0]["evidence"] == "timing"
    assert events[0]["gap_seconds"] == pytest.approx(301)
    assert "5m TTL" in events[0]["detail"]


def test_a_gap_within_the_ttl_that_missed_is_unexplained(db) -> None:
    calls = loop(4)
    calls[3].at = calls[2].at + 299
    calls[3].write_5m += calls[3].read
    calls[3].read = 0
    assert causes(judged(db, calls)) == [(4, "unexplained")]


def test_one_hour_system_outlives_five_minute_messages(db) -> None:
    """1h on the system block, 5m on the conversation: ten minutes later only the
    system is read, and the conversation expired (docs/facts.md §1 rule 5)."""
    calls = loop(4)
    for c in calls:
        c.ttls = ["1h", "5m"]
    calls[0].write_1h, calls[0].write_5m = 3000, calls[0].write_5m - 3000
    calls[3].at = calls[2].at + 600
    calls[3].write_5m += calls[3].read - 3000
    calls[3].read = 3000
    events = judged(db, calls)
    assert causes(events) == [(4, "ttl_expired")]
    assert events[0]["missed_tokens"] == 200 * 5


def test_within_one_hour_a_one_hour_cache_is_expected(db) -> None:
    calls = loop(3)
    for c in calls:
        c.ttls = ["1h", "1h"]
        c.write_1h, c.write_5m = c.write_5m, 0
    calls[2].at = calls[1].at + 1800
    calls[2].write_1h += calls[2].read
    calls[2].read = 0
    assert causes(judged(db, calls)) == [(3, "unexplained")]


def test_concurrent_requests(db) -> None:
    first = loop(1)[0]
    first.duration = 5.0
    twin = Call(2, 0.5, write_5m=first.write_5m, uncached=0, messages=first.messages,
                breakpoints=first.breakpoints, change="none")
    events = judged(db, [first, twin])
    assert causes(events) == [(2, "concurrent_requests")]
    assert events[0]["evidence"] == "timing"


def test_lookback_exceeded(db) -> None:
    calls = loop(3)
    # turn 3 appends 24 blocks (12 tool calls and their results) in one go: its only
    # breakpoint sits 24 blocks after the last entry, past the 20-block lookback
    c = calls[2]
    c.messages = calls[1].messages + [f"t{j}" for j in range(24)]
    c.breakpoints = [1, 1 + len(c.messages)]
    c.write_5m += c.read - 3000
    c.read = 3000
    events = judged(db, calls)
    assert causes(events) == [(3, "lookback_exceeded")]
    assert "24 blocks" in events[0]["detail"]


def test_a_breakpoint_that_moved_back_is_no_breakpoint(db) -> None:
    calls = loop(4)
    calls[3].breakpoints = [1]
    calls[3].uncached = calls[3].read + calls[3].write_5m - 3000
    calls[3].read, calls[3].write_5m = 3000, 0
    assert causes(judged(db, calls)) == [(4, "no_breakpoint")]


def test_no_breakpoint_at_all(db) -> None:
    calls = [Call(t, 10.0 * t, uncached=2000 + 100 * t, messages=[f"m{j}" for j in range(t)],
                  change="none" if t > 1 else "") for t in range(1, 5)]
    events = judged(db, calls)
    assert causes(events) == [(2, "no_breakpoint"), (3, "no_breakpoint"), (4, "no_breakpoint")]
    assert [e["missed_tokens"] for e in events] == [2100, 2200, 2300]
    assert events[0]["extra_cost_usd"] == pytest.approx(2100 * (3.0 - 0.30) / 1e6)


def test_below_minimum(db) -> None:
    calls = [Call(t, 10.0 * t, uncached=300 + 100 * t, messages=[f"m{j}" for j in range(t)],
                  breakpoints=[1 + t], ttls=["5m"], change="none" if t > 1 else "")
             for t in range(1, 4)]
    events = judged(db, calls)
    assert causes(events) == [(2, "below_minimum"), (3, "below_minimum")]
    assert "1,024" in events[0]["detail"]


def test_a_small_prompt_without_breakpoints_is_quiet(db) -> None:
    calls = [Call(t, 10.0 * t, uncached=300 + 100 * t, messages=[f"m{j}" for j in range(t)],
                  change="none" if t > 1 else "") for t in range(1, 4)]
    assert judged(db, calls) == []


def test_unexplained_with_fingerprints(db) -> None:
    calls = loop(5)
    calls[4].write_5m += calls[4].read
    calls[4].read = 0
    events = judged(db, calls)
    assert causes(events) == [(5, "unexplained")]
    assert events[0]["evidence"] == "prefix"
    assert "does not guarantee hits" in events[0]["detail"]


# --- the API's diagnostics ------------------------------------------------------------

def test_the_api_agreeing_is_said(db) -> None:
    event = _changed_at_turn_4(db, system="S2", change="system", change_block=1,
                               api_reason="system_changed", api_missed=3600)
    assert event["detail"].endswith("the API's cache diagnostics agree")


def test_the_api_disagreeing_is_shown(db) -> None:
    calls = loop(5)
    calls[4].write_5m += calls[4].read
    calls[4].read = 0
    calls[4].api_reason, calls[4].api_missed = "messages_changed", 3800
    events = judged(db, calls)
    assert causes(events) == [(5, "unexplained")]  # the fingerprints saw no change
    assert "but the API's cache diagnostics say messages_changed (3,800 tokens)" in (
        events[0]["detail"])


def test_without_fingerprints_the_api_diagnostics_give_the_cause(db) -> None:
    """Token counts alone (another instrumentation's report, no fingerprints) and the
    API's diagnostics recorded: reads fell within the TTL and the API says the system
    prompt changed, so that is the cause, on the API's evidence."""
    calls = _token_only([(0, 40, 0, 20_000), (30, 40, 20_000, 900), (60, 40, 0, 21_800)],
                        source="openllmetry")
    calls[2].api_reason, calls[2].api_missed = "system_changed", 20_500
    events = judged(db, calls)
    assert causes(events) == [(3, "system_changed")]
    event = events[0]
    assert event["evidence"] == "api"
    assert event["missed_tokens"] == 20_900  # what call 2 had cached, none of it read
    assert event["detail"].endswith("(the API's cache diagnostics, 20,500 tokens)")
    assert event["extra_cost_usd"] == pytest.approx(20_900 * (3.75 - 0.30) / 1e6)


# --- token counts and timing alone (Claude Code, the SDK's native spans, peers) ---------

def _token_only(spec: list[tuple[float, int, int, int]], source: str = "claude-code-event",
                model: str = "claude-sonnet-4-5") -> list[Call]:
    """(at, uncached, read, write_5m) per call, no fingerprints."""
    return [Call(i + 1, at, read=read, write_5m=write, uncached=uncached, source=source,
                 model=model, messages=[]) for i, (at, uncached, read, write) in enumerate(spec)]


def test_tokens_only_ttl_expired_and_unexplained(db) -> None:
    events = judged(db, _token_only([
        (0, 40, 0, 20_000),
        (30, 40, 20_000, 900),
        (430, 40, 0, 21_800),  # 400 s later: everything written again
        (460, 40, 5_000, 17_700),  # 30 s later, reads fell: no cause can be told
    ]))
    assert causes(events) == [(3, "ttl_expired"), (4, "unexplained")]
    assert [e["evidence"] for e in events] == ["timing", "tokens"]
    assert events[1]["missed_tokens"] == 21_800 - 5_000
    assert "token counts and timing alone" in events[1]["detail"]


def test_tokens_only_small_side_calls_are_no_event(db) -> None:
    """A title-generation call (small, uncached) between the main loop's calls: neither
    it nor the next main call is an event (docs/facts.md §5)."""
    assert judged(db, _token_only([
        (0, 40, 0, 20_000),
        (5, 380, 0, 0),
        (20, 40, 20_000, 900),
        (25, 380, 0, 0),
        (40, 40, 20_900, 600),
    ])) == []


def test_tokens_only_flat_reads_are_no_event(db) -> None:
    """The shared Claude Code capture's shape: every call reads the same 24,500 tokens
    and writes 2,100. Reads did not fall, so counts alone show no miss."""
    assert judged(db, _token_only([(0, 40, 24_500, 2_100), (0.13, 40, 24_500, 2_100),
                                   (9, 40, 24_500, 2_100)])) == []


def test_tokens_only_other_instrumentations(db) -> None:
    events = judged(db, _token_only([(0, 40, 0, 20_000), (400, 40, 0, 20_500)],
                                    source="openllmetry"))
    assert causes(events) == [(2, "ttl_expired")]


# --- the stored table follows the data ------------------------------------------------

def test_a_richer_report_that_arrives_later_replaces_the_event(db) -> None:
    """An event found from a peer's report disappears when tokentrail's report of the
    same call (higher rank) says it read its cache; the next pass stores a tombstone."""
    run_id = f"run-{next(_runs)}"
    insert(db, run_id, _token_only([(0, 40, 0, 20_000), (30, 40, 0, 20_900)],
                                   source="openllmetry"))
    db.refresh_cache_events(margin_seconds=0, max_runs=10_000)
    assert causes(db.cache_events(run_id)) == [(2, "unexplained")]
    rich = loop(2)
    rich[0].call_id, rich[1].call_id = f"{run_id}-1", f"{run_id}-2"
    insert(db, run_id, rich)
    assert db.cache_events(run_id) == []  # the run is dirty: judged on read
    db.refresh_cache_events(margin_seconds=0, max_runs=10_000)
    assert db.cache_events(run_id) == []  # read back from the table: tombstoned
    assert db.query("SELECT count() AS n FROM cache_events WHERE run_id = {r:String}",
                    {"r": run_id})[0]["n"] == 0


def test_recent_rows_are_judged_on_read_until_the_margin_passed(db) -> None:
    run_id = f"run-{next(_runs)}"
    insert(db, run_id, loop(3))
    db.refresh_cache_events(margin_seconds=3600, max_runs=10_000)
    dirty = db.query("SELECT count() AS n FROM cache_event_runs FINAL "
                     "WHERE run_id = {r:String} AND analysed_through < now64(3) - 3000",
                     {"r": run_id})
    assert dirty[0]["n"] == 1  # recorded, but only up to the horizon: still due


# --- run summary and fleet ------------------------------------------------------------

def test_run_summary_and_fleet(db) -> None:
    calls = loop(6)
    calls[5].at = calls[4].at + 400
    calls[5].write_5m += calls[5].read
    calls[5].read = 0
    run_id = f"run-{next(_runs)}"
    insert(db, run_id, calls)
    summary = db.cache_summary(run_id)
    assert summary.calls == 6 and summary.events == 1
    assert summary.cache_read_tokens == sum(c.read for c in calls)
    assert summary.rewritten_tokens == calls[4].read + calls[4].write_5m
    assert summary.by_cause[0]["cause"] == "ttl_expired"
    assert summary.extra_cost_usd == pytest.approx(summary.rewritten_tokens * 3.45 / 1e6)
    db.refresh_cache_events(margin_seconds=0, max_runs=10_000)
    fleet = db.cache_events_by(dt.datetime(2026, 11, 30), dt.datetime(2026, 12, 1), "cause")
    assert fleet and all(r["extra_cost_usd"] is None or r["extra_cost_usd"] >= 0 for r in fleet)
    costs = [r["extra_cost_usd"] or 0 for r in fleet]
    assert costs == sorted(costs, reverse=True)
    assert {"ttl_expired", "system_changed"} <= {r["cause"] for r in fleet}
    with pytest.raises(ValueError):
        db.cache_events_by(dt.datetime(2026, 11, 30), dt.datetime(2026, 12, 1), "model")


def test_fleet_by_service_ranks_services_by_extra_cost(db) -> None:
    """Two services on a day of their own (2026-12-02, no other run of this module):
    "agent-big" expires a 20k-token cache, "agent" a 4k-token one; by service they are
    ranked by extra_cost_usd, and add up to the same as by cause."""
    day = dt.datetime(2026, 12, 2, tzinfo=dt.timezone.utc)
    at = (day - START).total_seconds()

    def expiring(turns: int, system_tokens: int, service: str) -> int:
        """A run whose last turn comes after the 5m TTL; returns its missed tokens."""
        calls = loop(turns, system_tokens=system_tokens, at=at)
        calls[-1].at = calls[-2].at + 400
        calls[-1].write_5m += calls[-1].read
        calls[-1].read = 0
        run_id = f"run-{next(_runs)}"
        rows = [c.row(run_id) for c in calls]
        for row in rows:
            row[COLUMNS.index("service_name")] = service
        db.insert("llm_call_reports", rows, COLUMNS)
        return calls[-2].read + calls[-2].write_5m

    lost = {"agent": expiring(4, 3000, "agent"), "agent-big": expiring(3, 20_000, "agent-big")}
    range_ = (day, day + dt.timedelta(days=1))
    by_service = db.cache_events_by(*range_, "service")
    assert [r["service_name"] for r in by_service] == ["agent-big", "agent"]
    for row in by_service:
        assert (row["events"], row["runs"]) == (1, 1)
        assert row["missed_tokens"] == lost[row["service_name"]]
        # Sonnet 4.5: 5m write $3.75, read $0.30 per million (docs/facts.md §2)
        assert row["extra_cost_usd"] == pytest.approx(
            lost[row["service_name"]] * (3.75 - 0.30) / 1e6)
    (ttl,) = db.cache_events_by(*range_, "cause")
    assert (ttl["cause"], ttl["events"], ttl["missed_tokens"]) == (
        "ttl_expired", 2, sum(lost.values()))
