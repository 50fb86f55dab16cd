"""SQL-interface load benchmark: does querying the live store hurt ingest or the UI?

    python bench/sql_load.py [--seconds 15] [--rate 5000] [--clients 8] [--preload 150000]

One real `tokentrail serve` on a fresh embedded store (loopback only), preloaded with
spans. Then three phases of ``--seconds`` each, with ingest at a steady offered rate
(gzip protobuf OTLP/HTTP requests of 500 unique spans, sent on a fixed schedule by 4
senders that wait for their 200, as exporters do) and a UI probe (the runs page, every
0.25 s) throughout:

1. without query load,
2. with ``--clients`` SQL clients running heavy aggregates (GROUP BY over llm_calls and
   over the raw spans' attribute maps) in a loop on the SQL interface, each backing
   off for Retry-After when refused by the cap on concurrent queries,
3. without query load again (the baseline is the mean of 1 and 3, as the store grows).

Afterwards serve stops and the store is opened directly: every acknowledged span must be
in it. Prints a Markdown table; compare ratios across machines, not absolute numbers.
Every loop is bounded by its phase's deadline and every request by a timeout.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import free_port  # noqa: E402
from tests.otlp import NOW_NS, anthropic_call_attrs, span, trace_request  # noqa: E402

SPANS_PER_REQUEST = 500
SENDERS = 4
MODELS = ("claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-5")
HEAVY_QUERIES = (
    "SELECT run_id, count() AS turns, sum(input_tokens + cache_read_tokens + cache_write_tokens)"
    " AS input, sum(output_tokens) AS output FROM llm_calls GROUP BY run_id"
    " ORDER BY input DESC LIMIT 20 FORMAT JSON",
    "SELECT model, sum(cache_read_tokens) / sum(input_tokens + cache_read_tokens"
    " + cache_write_tokens) AS hit_rate, count() AS calls FROM llm_calls GROUP BY model"
    " FORMAT JSONEachRow",
    "SELECT SpanAttributes['gen_ai.response.model'] AS model, uniqExact(TraceId) AS traces,"
    " quantiles(0.5, 0.9, 0.99)(Duration) AS durations FROM otel_traces GROUP BY model"
    " FORMAT CSV",
    "SELECT toStartOfMinute(Timestamp) AS minute, count() AS spans,"
    " sum(toUInt64OrZero(SpanAttributes['gen_ai.usage.input_tokens'])) AS input"
    " FROM otel_traces GROUP BY minute ORDER BY minute FORMAT TabSeparated",
)


def make_bodies(prefix: str, spans: int) -> list[bytes]:
    """gzip-compressed OTLP protobuf requests of unique spans (response id
    ``msg_<prefix>_<n>``), 20 turns per conversation."""
    bodies, batch = [], []
    for n in range(spans):
        read = 2_000 + (n % 20) * 1_500
        batch.append(span(anthropic_call_attrs(
            response_id=f"msg_{prefix}_{n}", uncached=5 + n % 40, read=read, write=300,
            output=50 + n % 400, model=MODELS[n % 3], conversation=f"{prefix}-{n // 20}"),
            start_ns=NOW_NS + n * 1_000_000))
        if len(batch) == SPANS_PER_REQUEST:
            bodies.append(gzip.compress(trace_request(batch, service="load").SerializeToString()))
            batch = []
    return bodies


@dataclass
class Phase:
    name: str
    seconds: float
    acked: int = 0
    refused: int = 0
    ingest_ms: list[float] = field(default_factory=list)
    ui_ms: list[float] = field(default_factory=list)
    queries: int = 0
    query_refused: int = 0
    query_errors: dict[str, int] = field(default_factory=dict)
    query_ms: list[float] = field(default_factory=list)


def ingest(port: int, bodies: list[bytes], rate: float, phase: Phase, deadline: float,
           lock: threading.Lock) -> None:
    """Send ``bodies`` on a fixed schedule (``rate`` spans/s) until the deadline."""
    interval = SPANS_PER_REQUEST / rate
    start = time.monotonic()
    next_slot = [0]

    def sender() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                slot = next_slot[0]
                next_slot[0] += 1
            due = start + slot * interval
            if due >= deadline or slot >= len(bodies):
                return
            time.sleep(max(0.0, due - time.monotonic()))
            began = time.monotonic()
            conn.request("POST", "/v1/traces", body=bodies[slot], headers={
                "Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"})
            response = conn.getresponse()
            response.read()
            with lock:
                phase.ingest_ms.append((time.monotonic() - began) * 1000)
                if response.status == 200:
                    phase.acked += SPANS_PER_REQUEST
                else:
                    phase.refused += 1

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def ui_probe(port: int, phase: Phase, deadline: float) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while time.monotonic() < deadline:
        began = time.monotonic()
        conn.request("GET", "/?per_page=20")
        response = conn.getresponse()
        response.read()
        if response.status == 200:
            phase.ui_ms.append((time.monotonic() - began) * 1000)
        time.sleep(0.25)


def sql_client(port: int, n: int, phase: Phase, deadline: float, lock: threading.Lock) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    i = n
    while time.monotonic() < deadline:
        query = HEAVY_QUERIES[i % len(HEAVY_QUERIES)]
        i += 1
        began = time.monotonic()
        conn.request("POST", "/", body=query.encode())
        response = conn.getresponse()
        response.read()
        elapsed = (time.monotonic() - began) * 1000
        with lock:
            if response.status == 200:
                phase.queries += 1
                phase.query_ms.append(elapsed)
            elif response.status == 503:
                phase.query_refused += 1
            else:
                code = response.getheader("X-ClickHouse-Exception-Code") or str(response.status)
                phase.query_errors[code] = phase.query_errors.get(code, 0) + 1
        if response.status == 503:
            time.sleep(min(float(response.getheader("Retry-After") or 1),
                           max(0.0, deadline - time.monotonic())))


def run_phase(name: str, seconds: float, ports: dict, bodies: list[bytes], rate: float,
              clients: int) -> Phase:
    phase = Phase(name, seconds)
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=ingest, args=(ports["otlp"], bodies, rate, phase,
                                                     deadline, lock)),
               threading.Thread(target=ui_probe, args=(ports["ui"], phase, deadline))]
    threads += [threading.Thread(target=sql_client, args=(ports["sql"], n, phase, deadline, lock))
                for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return phase


def wait_healthy(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"serve exited early ({proc.returncode})")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("serve did not become healthy within 60 s")


def stored_spans(data: Path, prefix: str) -> int:
    """Load spans in the store, opened directly after serve stopped (its own process)."""
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); from tokentrail.store import Store\n"
        "s = Store.open('chdb://' + sys.argv[2], migrate=False)\n"
        "print(s.query(\"SELECT uniqExact(SpanAttributes['gen_ai.response.id']) AS n FROM "
        "otel_traces WHERE startsWith(SpanAttributes['gen_ai.response.id'], {p:String})\", "
        "{'p': sys.argv[3]})[0]['n'])\n"
        "s.close()\n")
    out = subprocess.run([sys.executable, "-c", script, str(REPO), str(data), f"msg_{prefix}_"],
                         check=True, capture_output=True, text=True, timeout=300)
    return int(out.stdout.strip().splitlines()[-1])


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15, help="length of each phase")
    parser.add_argument("--rate", type=float, default=5000, help="offered ingest, spans/s")
    parser.add_argument("--clients", type=int, default=8, help="SQL clients in phase 2")
    parser.add_argument("--preload", type=int, default=150_000, help="spans stored first")
    args = parser.parse_args()

    per_phase = int(args.rate * args.seconds * 1.2) + SPANS_PER_REQUEST
    print(f"generating {args.preload + 3 * per_phase:,} unique spans...", flush=True)
    preload = make_bodies("pre", args.preload)
    phases_bodies = [make_bodies(f"load{i}", per_phase) for i in range(3)]

    data = Path(tempfile.mkdtemp(prefix="tt-sqlload-")) / "store"
    ports = {"otlp": free_port(), "ui": free_port(), "sql": free_port()}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tokentrail", "serve", "--data", str(data), "--host", "127.0.0.1",
         "--otlp-http-port", str(ports["otlp"]), "--ui-port", str(ports["ui"]),
         "--sql-port", str(ports["sql"]), "--otlp-grpc-port", str(free_port()),
         "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_healthy(ports["ui"], proc)
        lock = threading.Lock()
        warm = Phase("preload", 0)
        ingest(ports["otlp"], preload, 1e9, warm, time.monotonic() + 600, lock)
        print(f"preloaded {warm.acked:,} spans; {os.cpu_count()} cores; phases of "
              f"{args.seconds:g} s at {args.rate:,.0f} spans/s offered", flush=True)
        phases = []
        for i, (name, clients) in enumerate([("without queries", 0),
                                             (f"with {args.clients} SQL clients", args.clients),
                                             ("without queries (again)", 0)]):
            phase = run_phase(name, args.seconds, ports, phases_bodies[i], args.rate, clients)
            phases.append(phase)
            print(f"  {name}: {phase.acked / phase.seconds:,.0f} spans/s acked, "
                  f"{phase.queries} queries", flush=True)
    finally:
        proc.terminate()
        try:
            _, stderr = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate()
    if proc.returncode != 0:
        print(f"serve exited {proc.returncode}:\n{stderr}")

    acked = sum(p.acked for p in phases)
    stored = sum(stored_spans(data, f"load{i}") for i in range(3))
    base = [phases[0], phases[2]]
    loaded = phases[1]
    base_rate = statistics.mean(p.acked / p.seconds for p in base)
    print()
    print("| phase | ingest spans/s | vs offered | ingest p50 / p99 ms | UI p50 / p95 / max ms "
          "| SQL queries (ok / refused 503 / failed) | query p50 / max ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for p in phases:
        rate = p.acked / p.seconds
        errors = sum(p.query_errors.values())
        print(f"| {p.name} | {rate:,.0f} | {rate / args.rate:.0%} | "
              f"{pct(p.ingest_ms, .5):.0f} / {pct(p.ingest_ms, .99):.0f} | "
              f"{pct(p.ui_ms, .5):.0f} / {pct(p.ui_ms, .95):.0f} / "
              f"{max(p.ui_ms, default=float('nan')):.0f} | "
              f"{p.queries} / {p.query_refused} / {errors} | "
              f"{pct(p.query_ms, .5):.0f} / {max(p.query_ms, default=float('nan')):.0f} |")
    loaded_rate = loaded.acked / loaded.seconds
    print()
    print(f"ingest under query load: {loaded_rate / base_rate:.0%} of its rate without "
          f"(needs >= 80%); UI p95 {pct(loaded.ui_ms, .95):.0f} ms vs "
          f"{statistics.mean(pct(p.ui_ms, .95) for p in base):.0f} ms without")
    print(f"acknowledged spans {acked:,}, in the store after stop {stored:,}: "
          f"{'none lost' if stored >= acked else f'{acked - stored:,} LOST'}")
    if loaded.query_errors:
        print(f"failed queries by ClickHouse error code: {json.dumps(loaded.query_errors)}")
    if any(p.refused for p in phases):
        print(f"ingest requests refused (429) and not retried: {sum(p.refused for p in phases)}")


if __name__ == "__main__":
    main()
