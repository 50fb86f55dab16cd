"""Ingest benchmark: sustained spans/s through OTLP/HTTP into the embedded store,
side by side with a raw chDB insert of the same rows (the limit on this machine).

    python bench/ingest.py [--seconds 20] [--senders 16] [--spans-per-request 1000]

1. `tokentrail serve` runs as a real process on a fresh data directory; sender
   threads POST gzip-compressed protobuf requests of 1000 GenAI spans each for a
   fixed time; throughput counts only acknowledged (200) spans. Peak RSS is the
   VmHWM of the serve process plus its decode workers.
2. In a separate process (chDB allows one data path per process), the same spans,
   already decoded to rows, are inserted into the same schema (materialized views
   included) through clickhouse-connect in 10k-row batches.

The senders share the machine's cores with the server, as an agent fleet's
exporters would not; the ratio column is what to compare across machines.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import free_port  # noqa: E402
from tests.otlp import anthropic_call_attrs, span, trace_request  # noqa: E402


def make_requests(count: int, spans: int, values: str = "agent") -> list:
    """GenAI spans as the SDK's native tracing reports them, 50 turns per conversation.

    ``values``: ``agent`` models a cached agent loop: a few uncached input tokens, a
    new cache write per turn, cache reads growing with the conversation, a few hundred
    output tokens, so response ids, cache reads and total input are unique per span
    and the rest recurs. ``uniform`` draws every count uniformly from a wide range
    (nearly every value unique): the worst case for the collector, which decodes each
    distinct attribute encoding once.
    """
    rng = random.Random(7)
    requests = []
    for r in range(count):
        batch = []
        read = 0
        for i in range(spans):
            if i % 50 == 0:
                read = rng.randint(2_000, 30_000)  # a new conversation: system + tools
            if values == "uniform":
                uncached, write, output = (rng.randint(1, 3_000), rng.randint(0, 8_000),
                                           rng.randint(1, 4_000))
                read = rng.randint(0, 150_000)
            else:
                uncached, write = rng.randint(1, 40), rng.randint(50, 3_000)
                output = int(rng.lognormvariate(5, 0.8)) + 1
            batch.append(span(anthropic_call_attrs(
                response_id=f"msg_b{r}_{i}", uncached=uncached, read=read, write=write,
                output=output, conversation=f"bench-{r}-{i // 50}")))
            read += write + output
        requests.append(trace_request(batch, service="bench-agent"))
    return requests


def peak_rss_mb(pid: int) -> float:
    """Peak RSS of the process and its children (the decode workers), in MiB."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    total = 0
    for proc in (str(pid), *children):
        for line in Path(f"/proc/{proc}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1])
    return total / 1024


def run_serve(bodies: list[bytes], spans: int, seconds: float, senders: int) -> dict:
    data = Path(tempfile.mkdtemp(prefix="tt-bench-"))
    otlp, ui = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tokentrail", "serve", "--data", str(data / "store"),
         "--otlp-http-port", str(otlp), "--ui-port", str(ui),
         "--otlp-grpc-port", str(free_port()), "--sql-port", "0", "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", ui, timeout=1)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        acked = [0] * senders
        refused = [0] * senders
        stop = time.monotonic() + seconds

        def send(n: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", otlp, timeout=60)
            i = n
            while time.monotonic() < stop:
                conn.request("POST", "/v1/traces", body=bodies[i % len(bodies)], headers={
                    "Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"})
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    acked[n] += spans
                else:
                    refused[n] += 1
                    time.sleep(float(response.getheader("Retry-After") or 0.1))
                i += senders

        started = time.monotonic()
        threads = [threading.Thread(target=send, args=(n,)) for n in range(senders)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        return {"spans": sum(acked), "seconds": elapsed, "refused": sum(refused),
                "rss_mb": peak_rss_mb(proc.pid)}
    finally:
        proc.terminate()
        proc.wait(60)


RAW = r"""
import json, sys, tempfile, time
sys.path.insert(0, sys.argv[1])
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from tokentrail.collector.rows import TRACE_COLUMNS, trace_rows
from tokentrail.store import Store
bodies = [open(p, "rb").read() for p in sys.argv[3:]]
rows = []
for body in bodies:
    rows.extend(trace_rows(ExportTraceServiceRequest.FromString(body)))
target = int(sys.argv[2])
store = Store.open("chdb://" + tempfile.mkdtemp(prefix="tt-raw-"))
done, started = 0, time.perf_counter()
while done < target:
    for i in range(0, len(rows), 10_000):
        store.insert("otel_traces", rows[i:i + 10_000], TRACE_COLUMNS)
        done += len(rows[i:i + 10_000])
elapsed = time.perf_counter() - started
print(json.dumps({"spans": done, "seconds": elapsed}))
"""


def run_raw(raw_bodies: list[bytes], total: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, body in enumerate(raw_bodies):
            path = Path(tmp) / f"{i}.pb"
            path.write_bytes(body)
            paths.append(str(path))
        out = subprocess.run([sys.executable, "-c", RAW, str(REPO), str(total), *paths],
                             check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--senders", type=int, default=16,
                        help="concurrent exporters (each waits for its 200, as OTLP's do)")
    parser.add_argument("--spans-per-request", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=20, help="distinct request bodies")
    parser.add_argument("--values", choices=("agent", "uniform"), default="agent",
                        help="token counts of an agent loop (default), or uniformly "
                             "random ones (worst case: nearly every value unique)")
    args = parser.parse_args()

    requests = make_requests(args.requests, args.spans_per_request, args.values)
    raw_bodies = [r.SerializeToString() for r in requests]
    bodies = [gzip.compress(b) for b in raw_bodies]
    print(f"{args.requests} distinct requests of {args.spans_per_request} spans, "
          f"{sum(map(len, raw_bodies)) // len(raw_bodies) // 1024} KiB each "
          f"({sum(map(len, bodies)) // len(bodies) // 1024} KiB gzipped), "
          f"{args.values} token counts; "
          f"{os.cpu_count()} cores", flush=True)

    served = run_serve(bodies, args.spans_per_request, args.seconds, args.senders)
    raw = run_raw(raw_bodies, max(served["spans"], 100_000))
    serve_rate = served["spans"] / served["seconds"]
    raw_rate = raw["spans"] / raw["seconds"]
    print()
    print("| path | spans | seconds | spans/s | vs raw | peak RSS |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| OTLP/HTTP protobuf+gzip -> tokentrail serve -> chDB | {served['spans']:,} | "
          f"{served['seconds']:.1f} | {serve_rate:,.0f} | {serve_rate / raw_rate:.0%} | "
          f"{served['rss_mb']:.0f} MiB |")
    print(f"| raw clickhouse-connect insert into chDB (same rows, same schema) | "
          f"{raw['spans']:,} | {raw['seconds']:.1f} | {raw_rate:,.0f} | 100% | |")
    if served["refused"]:
        print(f"\n{served['refused']} requests were refused with 429 (queue full) and retried")


if __name__ == "__main__":
    main()
