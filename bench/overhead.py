"""Per-call overhead of tracing the anthropic SDK: none, SDK native, tokentrail, peers.

    python bench/overhead.py [--calls 300] [--turns 300]

Each mode runs in a fresh subprocess (instrumentations patch the SDK globally and not
all can be undone), against an in-process transport (httpx MockTransport answering a
canned Messages JSON) so the network does not dominate. Spans go to a discarding
exporter through a SimpleSpanProcessor, so export cost is counted, in the caller.

Scenarios: a constant short call; a 300-turn conversation of 2 KB user turns (early =
turns 1-50, late = turns 251-300, median per call). Peers that are not importable are
skipped with a note; install them with bench/requirements-overhead.txt.

Targets (issue 4): tokentrail adds <= 150 us per call over what the SDK itself spends
(native tracing included where the SDK has it), and its added time on late turns is
within 1.5x its added time on early turns.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

MODES = ["none", "sdk", "tokentrail", "openllmetry", "openinference"]
RESPONSE = {
    "id": "msg_bench", "type": "message", "role": "assistant", "model": "claude-sonnet-4-6",
    "content": [{"type": "text", "text": "Sure, here is a short answer."}],
    "stop_reason": "end_turn", "stop_sequence": None,
    "usage": {"input_tokens": 12, "output_tokens": 8, "cache_read_input_tokens": 3000,
              "cache_creation_input_tokens": 500,
              "cache_creation": {"ephemeral_5m_input_tokens": 500,
                                 "ephemeral_1h_input_tokens": 0}},
}
USER_TURN = "Please look at the following log excerpt and tell me what failed. " * 31  # ~2 KB


def setup(mode: str):
    """Configure tracing for ``mode``; returns an Anthropic client on a mock transport."""
    import anthropic
    import anthropic._base_client as base
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    class Discard(SpanExporter):
        def export(self, spans):
            return SpanExportResult.SUCCESS

    native = hasattr(base, "finish_api_call_span")
    if mode != "none":
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(Discard()))
        trace.set_tracer_provider(provider)
    if mode == "tokentrail":
        from tokentrail.instrumentation import AnthropicInstrumentor

        AnthropicInstrumentor().instrument()
    elif mode == "openllmetry":
        from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor as Peer

        Peer().instrument()
    elif mode == "openinference":
        from openinference.instrumentation.anthropic import AnthropicInstrumentor as Peer

        Peer().instrument()

    httpx = getattr(base, "httpx2", None) or base.httpx
    body = json.dumps(RESPONSE).encode()

    def handler(request):
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    kwargs = {}
    if native:
        # "none": the SDK's own tracing off; every other mode: the SDK traces natively
        # (peers then add their spans on top, as they would in a real process).
        kwargs["open_telemetry"] = False if mode == "none" else None
    return anthropic.Anthropic(api_key="sk-bench", base_url="http://bench", max_retries=0,
                               http_client=httpx.Client(transport=httpx.MockTransport(handler)),
                               **kwargs)


def measure(mode: str, calls: int, turns: int) -> dict:
    client = setup(mode)
    system = [{"type": "text", "text": "You are a careful assistant. " * 100,
               "cache_control": {"type": "ephemeral"}}]
    short = [{"role": "user", "content": "Hi"}]
    for _ in range(30):  # warm-up: imports, caches, lazy tracers
        client.messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=short)
    short_times = []
    for _ in range(calls):
        t0 = time.perf_counter_ns()
        client.messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=short)
        short_times.append(time.perf_counter_ns() - t0)
    messages: list = []
    conv_times = []
    for i in range(turns):
        messages.append({"role": "user", "content": f"{i}: {USER_TURN}"})
        t0 = time.perf_counter_ns()
        reply = client.messages.create(model="claude-sonnet-4-6", max_tokens=100,
                                       system=system, messages=messages)
        conv_times.append(time.perf_counter_ns() - t0)
        messages.append({"role": "assistant", "content": reply.content})
    window = max(1, min(50, turns // 6))
    return {
        "short": statistics.median(short_times) / 1000,
        "early": statistics.median(conv_times[:window]) / 1000,
        "late": statistics.median(conv_times[-window:]) / 1000,
        "total_s": sum(conv_times) / 1e9,
    }


def child(mode: str, calls: int, turns: int) -> None:
    try:
        result = measure(mode, calls, turns)
    except ImportError as error:
        result = {"skipped": f"not importable ({error.name})"}
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3, help="runs per mode; best median kept")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.calls, args.turns)
        return

    import anthropic

    results: dict[str, dict] = {}
    for mode in MODES:
        runs = []
        for _ in range(args.repeat):
            out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", mode,
                                  "--calls", str(args.calls), "--turns", str(args.turns)],
                                 capture_output=True, text=True, check=False)
            if out.returncode != 0:
                runs = [{"skipped": "failed: " + out.stderr.strip().splitlines()[-1][:80]}]
                break
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            if "skipped" in runs[-1]:
                break
        if "skipped" in runs[0]:
            results[mode] = runs[0]
        else:
            results[mode] = {k: min(r[k] for r in runs) for k in runs[0]}

    print(f"anthropic {anthropic.__version__}, Python {sys.version.split()[0]}; "
          f"{args.calls} short calls, {args.turns}-turn conversation (2 KB user turns); "
          "median us per call (best of {args.repeat} runs)".replace("{args.repeat}",
                                                                     str(args.repeat)))
    header = (f"| {'mode':<14}| {'short':>8} | {'early turns':>11} | {'late turns':>10} "
              f"| {'300 turns total':>15} |")
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for mode, r in results.items():
        if "skipped" in r:
            print(f"| {mode:<14}| skipped: {r['skipped']}")
            continue
        print(f"| {mode:<14}| {r['short']:8.0f} | {r['early']:11.0f} | {r['late']:10.0f} "
              f"| {r['total_s']:13.2f} s |")
    base, ours = results.get("sdk", {}), results.get("tokentrail", {})
    if "short" in base and "short" in ours:
        added = {k: ours[k] - base[k] for k in ("short", "early", "late")}
        ratio = added["late"] / added["early"] if added["early"] > 0 else float("inf")
        print(f"\ntokentrail added over the SDK: short {added['short']:.0f} us, "
              f"early {added['early']:.0f} us, late {added['late']:.0f} us "
              f"(late/early {ratio:.2f}); targets: <= 150 us, late/early <= 1.5")


if __name__ == "__main__":
    main()
