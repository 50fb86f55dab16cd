"""Per-call overhead of tracing the anthropic SDK: none, SDK native, tokentrail, peers.

    python bench/overhead.py [--calls 300] [--turns 300] [--rounds 5] [--caches warm,cold]
                             [--network-ms 1]

Each mode runs in a fresh subprocess (instrumentations patch the SDK globally and not
all can be undone), against an in-process transport (httpx MockTransport answering a
canned Messages JSON after ``--network-ms``, GIL released; that wait is subtracted from
every call's time). Spans go to a discarding exporter through a SimpleSpanProcessor, so
export cost is counted, in the caller. Every mode is measured with caches warm and cold.

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
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

OWN = "tokentrail-own"  # tokentrail with the bench's own-time counters
PAIRED = "tokentrail-paired"  # tokentrail switched on and off call by call, in one process
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


class Server:
    """Time the mock API spent "on the network" (``--network-ms``), to subtract per call."""

    ns = 0


SERVER = Server()


def setup(mode: str, network_s: float = 0.0):
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
    if mode in ("tokentrail", OWN):
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
    clock = time.perf_counter_ns

    def handler(request):
        if network_s > 0:
            t0 = clock()
            time.sleep(network_s)  # releases the GIL, as a socket read does
            SERVER.ns += clock() - t0
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    kwargs = {}
    if native:
        # "none": the SDK's own tracing off; every other mode: the SDK traces natively
        # (peers then add their spans on top, as they would in a real process).
        kwargs["open_telemetry"] = False if mode == "none" else None
    return anthropic.Anthropic(api_key="sk-bench", base_url="http://bench", max_retries=0,
                               http_client=httpx.Client(transport=httpx.MockTransport(handler)),
                               **kwargs)


class OwnTimer:
    """Time spent inside tokentrail's hooks, minus the SDK code they call (bench only).

    Patches ``Hooks.sync_request`` and ``Hooks.finish_hook`` before ``instrument()`` binds
    them; the library itself has no timing code, so this costs nothing elsewhere.
    """

    def __init__(self) -> None:
        from tokentrail.instrumentation.hooks import Hooks

        self.ns = 0
        clock = time.perf_counter_ns
        hooks = Hooks
        sync_request, finish_hook = hooks.sync_request, hooks.finish_hook
        timer = self

        def timed(original: Callable[..., object]) -> Callable[..., object]:
            def hook(self, wrapped, instance, args, kwargs):
                inner = 0

                def sdk(*a: object, **k: object) -> object:
                    nonlocal inner
                    t1 = clock()
                    try:
                        return wrapped(*a, **k)
                    finally:
                        inner += clock() - t1

                t0 = clock()
                try:
                    return original(self, sdk, instance, args, kwargs)
                finally:
                    timer.ns += clock() - t0 - inner
            return hook

        hooks.sync_request = timed(sync_request)
        hooks.finish_hook = timed(finish_hook)


class Switch:
    """Installs or removes tokentrail's patches between two calls (bench only).

    ``instrument()`` replaces ``SyncAPIClient.request`` (and, on 2.x,
    ``_base_client.finish_api_call_span``) with wrappers; ``off()`` puts the SDK's own
    functions back, ``on()`` the wrappers. A call made "off" is exactly the SDK with its
    native tracing, in the same process, right next to the call made "on".
    """

    def __init__(self) -> None:
        import anthropic._base_client as base

        self.base = base
        self.sdk = self._current()
        self.ours = self.sdk

    def _current(self) -> tuple[object, object]:
        base = self.base
        return base.SyncAPIClient.__dict__["request"], getattr(base, "finish_api_call_span", None)

    def installed(self) -> None:
        self.ours = self._current()

    def _put(self, request: object, finish: object) -> None:
        self.base.SyncAPIClient.request = request
        if finish is not None:
            self.base.finish_api_call_span = finish

    def on(self) -> None:
        self._put(*self.ours)

    def off(self) -> None:
        self._put(*self.sdk)


class Evictor:
    """Writes one byte per cache line of a buffer twice the size of L3 (``--cold``).

    A real agent's calls are seconds apart, with network waits and other work in
    between, so each one starts on cold caches. Without eviction, the bench's early turns
    run warm (the SDK's small early requests leave tokentrail's code and data cached)
    while late turns run cold (the SDK's ~1 MB request flushes them), and late/early
    compares cache states rather than growth. Measured 2026-11-25: tokentrail's own
    time early/late 69/114 us warm, 149/164 us with eviction.
    """

    def __init__(self, enabled: bool, size: int = 64 << 20) -> None:
        self.buffer = bytearray(size) if enabled else None
        self.zeros = bytes(size // 64) if enabled else b""

    def __call__(self) -> None:
        if self.buffer is not None:
            self.buffer[::64] = self.zeros


def metered(create: Callable[..., object], **kwargs: object) -> tuple[int, int, object]:
    """One call's latency without the mock server's "network" time, its CPU time, result.

    Latency is what the caller waits for minus what the server took (``--network-ms``,
    measured in the handler): what the SDK and the tracing spend. CPU is the process's,
    all threads, so work that tracing moves off the caller's path is still counted.
    """
    server0, cpu0 = SERVER.ns, time.process_time_ns()
    t0 = time.perf_counter_ns()
    out = create(**kwargs)
    wall = time.perf_counter_ns() - t0
    return wall - (SERVER.ns - server0), time.process_time_ns() - cpu0, out


def measure_paired(calls: int, turns: int, evict: Evictor, network_s: float) -> dict:
    """tokentrail minus SDK per call, paired: each call is made once on, once off (ABBA)."""
    switch = Switch()
    client = setup("tokentrail", network_s)
    switch.installed()
    system = [{"type": "text", "text": "You are a careful assistant. " * 100,
               "cache_control": {"type": "ephemeral"}}]
    short = [{"role": "user", "content": "Hi"}]

    def pair(i: int, **kwargs: object) -> tuple[int, int, object]:
        times, cpus, reply = {}, {}, None
        for on in ((True, False) if i % 2 else (False, True)):
            (switch.on if on else switch.off)()
            evict()
            times[on], cpus[on], out = metered(client.messages.create,
                                               model="claude-sonnet-4-6", **kwargs)
            reply = out if on else reply
        return times[True] - times[False], cpus[True] - cpus[False], reply

    for i in range(30):
        pair(i, max_tokens=10, messages=short)
    short_d, short_cpu = [], []
    for i in range(calls):
        d, cpu, _ = pair(i, max_tokens=10, messages=short)
        short_d.append(d)
        short_cpu.append(cpu)
    messages: list = []
    conv_d, conv_cpu = [], []
    for i in range(turns):
        messages.append({"role": "user", "content": f"{i}: {USER_TURN}"})
        d, cpu, reply = pair(i, max_tokens=100, system=system, messages=messages)
        conv_d.append(d)
        conv_cpu.append(cpu)
        messages.append({"role": "assistant", "content": reply.content})
    switch.on()
    window = max(1, min(50, turns // 6))
    return {"short": crossover(short_d) / 1000,
            "early": crossover(conv_d[:window]) / 1000,
            "late": crossover(conv_d[-window:]) / 1000, "total_s": 0.0,
            "cpu_short": crossover(short_cpu) / 1000,
            "cpu_early": crossover(conv_cpu[:window]) / 1000,
            "cpu_late": crossover(conv_cpu[-window:]) / 1000}


def crossover(differences: list[int]) -> float:
    """The mean of the two orders' medians of the paired differences (on - off).

    Consecutive pairs alternate their order (``pair`` runs "on" first for odd ``i``), so
    the even and the odd positions of ``differences`` each hold one order, whichever
    slice of the run it is. What a call pays for its position in the pair adds to one
    order's differences and subtracts from the other's, so the mean of the two medians
    cancels it; a pooled median would land anywhere between the two clusters.
    """
    one_order, other_order = differences[0::2], differences[1::2]
    if not other_order:
        return statistics.median(one_order)
    return (statistics.median(one_order) + statistics.median(other_order)) / 2


def measure(mode: str, calls: int, turns: int, cold: bool = False,
            network_s: float = 0.0) -> dict:
    evict = Evictor(cold)
    if mode == PAIRED:
        return measure_paired(calls, turns, evict, network_s)
    timer = OwnTimer() if mode == OWN else None
    client = setup(mode, network_s)
    system = [{"type": "text", "text": "You are a careful assistant. " * 100,
               "cache_control": {"type": "ephemeral"}}]
    short = [{"role": "user", "content": "Hi"}]
    for _ in range(30):  # warm-up: imports, caches, lazy tracers
        client.messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=short)
    short_times, short_own = [], []
    for _ in range(calls):
        evict()
        own0 = timer.ns if timer else 0
        wall, _cpu, _ = metered(client.messages.create, model="claude-sonnet-4-6",
                                max_tokens=10, messages=short)
        short_times.append(wall)
        short_own.append((timer.ns if timer else 0) - own0)
    messages: list = []
    conv_times, conv_own = [], []
    for i in range(turns):
        messages.append({"role": "user", "content": f"{i}: {USER_TURN}"})
        evict()
        own0 = timer.ns if timer else 0
        wall, _cpu, reply = metered(client.messages.create, model="claude-sonnet-4-6",
                                    max_tokens=100, system=system, messages=messages)
        conv_times.append(wall)
        conv_own.append((timer.ns if timer else 0) - own0)
        messages.append({"role": "assistant", "content": reply.content})
    window = max(1, min(50, turns // 6))
    if timer is not None:
        short_times, conv_times = short_own, conv_own
    return {
        "short": statistics.median(short_times) / 1000,
        "early": statistics.median(conv_times[:window]) / 1000,
        "late": statistics.median(conv_times[-window:]) / 1000,
        "total_s": sum(conv_times) / 1e9,
    }


def child(mode: str, calls: int, turns: int, cold: bool, network_s: float) -> None:
    try:
        result = measure(mode, calls, turns, cold, network_s)
    except ImportError as error:
        result = {"skipped": f"not importable ({error.name})"}
    print(json.dumps(result))


# glibc returns freed memory above these sizes to the kernel and faults it back in on the
# next allocation. A late turn's SDK call builds and frees ~1 MB of JSON, so some calls
# pay ~100-200 us of page faults and others none, depending on the heap's state, not on
# the code being measured. Every child gets the same setting (``--glibc-defaults`` to
# measure with glibc's own).
# (glibc ignores an mmap threshold above 32 MiB and reads the trim threshold as an int.)
STEADY_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(1 << 30),
                 "MALLOC_TOP_PAD_": str(64 << 20)}


def run_child(mode: str, args: argparse.Namespace, cold: bool) -> dict:
    env = dict(os.environ) if args.glibc_defaults else {**os.environ, **STEADY_MALLOC}
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", mode,
                          "--calls", str(args.calls), "--turns", str(args.turns),
                          "--network-ms", str(args.network_ms),
                          *(["--cold"] if cold else [])],
                         capture_output=True, text=True, check=False, env=env)
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines() or ["?"]
        return {"skipped": "failed: " + lines[-1][:80]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def spread(values: list[float], fmt: str = "{:.0f}") -> str:
    if len(values) == 1:
        return fmt.format(values[0])
    return (fmt.format(statistics.median(values)) + " [" + fmt.format(min(values)) + "-"
            + fmt.format(max(values)) + "]")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


SCENARIOS = ("short", "early", "late")
# Far below any real Messages call (hundreds of ms at least), and enough to show what
# runs while a request is in flight; --network-ms 0 measures the CPU-bound case.
NETWORK_MS = 1.0
TARGET_US, TARGET_RATIO = 150.0, 1.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--rounds", "--repeat", type=int, default=5, dest="rounds",
                        help="ABAB rounds: each round runs every mode once")
    parser.add_argument("--glibc-defaults", action="store_true",
                        help="run the children with glibc's own malloc trimming (noisier "
                             "on late turns, see STEADY_MALLOC)")
    parser.add_argument("--caches", default="warm,cold",
                        help="cache states to measure, comma-separated (default "
                             "%(default)s): warm = as the last call left them; cold = "
                             "evicted before every measured call, as a real agent's calls, "
                             "seconds apart, start (see Evictor)")
    parser.add_argument("--cold", action="store_true", help="same as --caches cold")
    parser.add_argument("--network-ms", type=float, default=NETWORK_MS,
                        help="how long the mock API takes to answer, GIL released as on a "
                             "socket (default %(default)s; 0: answer at once, CPU-bound). "
                             "Subtracted from every call's time")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.calls, args.turns, args.cold, args.network_ms / 1000)
        return
    states = ["cold"] if args.cold else [c.strip() for c in args.caches.split(",") if c.strip()]
    if not states or set(states) - {"warm", "cold"}:
        parser.error("--caches takes warm, cold or warm,cold")

    import anthropic

    print(f"anthropic {anthropic.__version__}, Python {sys.version.split()[0]}; "
          f"{args.calls} short calls, {args.turns}-turn conversation (2 KB user turns); "
          f"median us per call, median of {args.rounds} interleaved rounds; malloc: "
          f"{'glibc defaults' if args.glibc_defaults else 'steady (no trim, no mmap)'}; "
          f"mock API answers after {args.network_ms:g} ms (not counted)")
    results = {state: report(state, args) for state in states}
    if any(r is None for r in results.values()):
        return
    print("\n## Verdicts (issue 4)")
    for state, (absolute, _ratio) in results.items():
        print(f"{verdict(absolute)}  added <= {TARGET_US:.0f} us per call, short/early/late, "
              f"caches {state}")
    growth = results.get("cold", results.get("warm"))[1]
    print(f"{verdict(growth)}  late/early <= {TARGET_RATIO}, judged with caches "
          f"{'cold' if 'cold' in results else 'warm'}: does tokentrail's cost grow with "
          "the conversation?")
    if "cold" in results and "warm" in results:
        print(f"info  late/early with caches warm: {verdict(results['warm'][1])}. Warm, "
              "early turns find tokentrail's code and data in L2 (the SDK's early requests "
              "are small) and late turns do not (the SDK's ~1 MB request flushes L2), so "
              "the warm ratio compares cache states; with every call cold, only growth "
              "is left (bench/README.md)")


def report(state: str, args: argparse.Namespace) -> tuple[bool, bool] | None:
    """Run every mode in cache state ``state``, print its tables; (absolute, ratio) verdicts."""
    cold = state == "cold"
    children = [*MODES, OWN, PAIRED]
    rounds: dict[str, list[dict]] = {mode: [] for mode in children}
    skipped: dict[str, str] = {}
    for _ in range(args.rounds):
        for mode in children:
            if mode in skipped:
                continue
            result = run_child(mode, args, cold)
            if "skipped" in result:
                skipped[mode] = result["skipped"]
            else:
                rounds[mode].append(result)

    def med(mode: str, key: str) -> float:
        return statistics.median(r[key] for r in rounds[mode])

    print(f"\n## Caches {state}: "
          + ("evicted before every measured call" if cold else "as left by the last call"))
    header = (f"| {'mode':<17}| {'short':>8} | {'early turns':>11} | {'late turns':>10} "
              f"| {'all turns, total':>16} |")
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for mode in MODES:
        if mode in skipped:
            print(f"| {mode:<17}| skipped: {skipped[mode]}")
            continue
        print(f"| {mode:<17}| {med(mode, 'short'):8.0f} | {med(mode, 'early'):11.0f} "
              f"| {med(mode, 'late'):10.0f} | {med(mode, 'total_s'):14.2f} s |")

    base, ours, own, paired = rounds["sdk"], rounds["tokentrail"], rounds[OWN], rounds[PAIRED]
    if not (base and ours and own and paired) or len(base) != len(ours):
        print("\nno verdict: sdk or tokentrail did not run")
        return None
    added = {k: [o[k] - b[k] for o, b in zip(ours, base, strict=True)] for k in SCENARIOS}
    own_us = {k: [r[k] for r in own] for k in SCENARIOS}
    paired_us = {k: [r[k] for r in paired] for k in SCENARIOS}
    ratio_added = [late / early if early > 0 else float("inf")
                   for late, early in zip(added["late"], added["early"], strict=True)]
    ratio_own = [r["late"] / r["early"] for r in own]
    print(f"\ntokentrail per call, median [min-max] over {len(own)} rounds (us):")
    print(f"| {'estimator':<34}| {'short':>16} | {'early turns':>16} | {'late turns':>16} "
          f"| {'late/early':>18} |")
    print(f"|{'-' * 35}|{'-' * 18}|{'-' * 18}|{'-' * 18}|{'-' * 20}|")
    print(f"| {'added, paired in one process':<34}| "
          + " | ".join(f"{spread(paired_us[k]):>16}" for k in SCENARIOS)
          + f" | {spread([r['late'] / r['early'] for r in paired], '{:.2f}'):>18} |")
    print(f"| {'added CPU, paired (all threads)':<34}| "
          + " | ".join(f"{spread([r['cpu_' + k] for r in paired]):>16}" for k in SCENARIOS)
          + f" | {spread([r['cpu_late'] / r['cpu_early'] for r in paired], '{:.2f}'):>18} |")
    print(f"| {'added: tokentrail - sdk (medians)':<34}| "
          + " | ".join(f"{spread(added[k]):>16}" for k in SCENARIOS)
          + f" | {spread(ratio_added, '{:.2f}'):>18} |")
    print(f"| {'own: time inside its hooks':<34}| "
          + " | ".join(f"{spread(own_us[k]):>16}" for k in SCENARIOS)
          + f" | {spread(ratio_own, '{:.2f}'):>18} |")

    print(f"\nTargets (issue 4): added <= {TARGET_US:.0f} us per call; late/early <= "
          f"{TARGET_RATIO}. The paired estimate (primary) compares each call made with "
          "tokentrail to the same call made without it, in the same process, so it "
          "carries tokentrail's indirect costs (wrapper dispatch, deallocation, GC) but "
          "not the noise between processes; own time is a lower bound; the difference "
          "of medians between processes is printed for information. Verdicts take the "
          "median over rounds (one busy round on a shared VM must not decide); the "
          "brackets show every round. CPU counts every thread of the process: what "
          "tokentrail costs the machine.")
    absolute = True
    for k in SCENARIOS:
        pair_us, direct = statistics.median(paired_us[k]), statistics.median(own_us[k])
        ok = pair_us <= TARGET_US and direct <= TARGET_US
        absolute = absolute and ok
        print(f"{verdict(ok)}  {k:<5} added <= {TARGET_US:.0f} us: paired "
              f"{spread(paired_us[k])} us, own {direct:.0f} us (difference of medians "
              f"{statistics.median(added[k]):.0f} us)")
    shares(paired_us, rounds["sdk"])
    ratio_paired = [r["late"] / r["early"] for r in paired]
    ratio_ok = (statistics.median(ratio_paired) <= TARGET_RATIO
                and statistics.median(ratio_own) <= TARGET_RATIO)
    print(f"{verdict(ratio_ok)}  late/early <= {TARGET_RATIO}: paired ratio "
          f"{spread(ratio_paired, '{:.2f}')}, own-time ratio {spread(ratio_own, '{:.2f}')}; "
          f"difference-of-medians ratio {spread(ratio_added, '{:.2f}')}, informative only")
    return absolute, ratio_ok


def shares(paired_us: dict[str, list[float]], sdk: list[dict]) -> None:
    """What tokentrail adds (paired) as a share of what the SDK itself spends on the same
    call, its native tracing included (issue 10 weighs the design by it)."""
    cells = []
    for k in SCENARIOS:
        share = 100 * statistics.median(paired_us[k]) / statistics.median(r[k] for r in sdk)
        cells.append(f"{k} {share:.1f}%")
    print("tokentrail adds, as a share of the SDK's own time: " + ", ".join(cells))


if __name__ == "__main__":
    main()
