"""``tokentrail demo``: serve + emulator + the demo agents, and what to look at first.

``tokentrail serve`` runs as a child process on the demo's store (a temporary directory
unless ``--data``), exactly as a user starts it; the emulator runs on a thread of this
process; each agent runs in a process of its own (:mod:`.agent_process`) and sends its
spans over OTLP to serve. The agents run at once, except the one that moves the
emulator's clock (long pauses), which runs when the others are done so that its pauses
expire nobody else's cache. When every call the emulator answered is in ``llm_calls``
(counted through serve's SQL interface), the demo prints where to look; then it keeps
serving until Ctrl-C (``--keep-running``, the default) or stops serve cleanly and exits
(``--exit``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import webbrowser
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tokentrail.emulator import Scenario, running_emulator
from tokentrail.emulator.scenario import Reply, Rule

from .agents import AGENTS, CLASSIFY

# Oldest first: the virtual clocks start at DEMO_SPAN ago, one agent every STAGGER
# seconds, so the runs list (newest first) opens on the timestamp agent.
ORDER = ("well-cached-coding-agent", "long-pauses-between-turns", "classification-on-opus",
         "orchestrator-fan-out", "compacts-its-context", "huge-tool-result-dragged-along",
         "breakpoint-only-on-system-prompt", "no-cache-breakpoint",
         "tools-reordered-every-turn", "timestamp-in-system-prompt")
DEMO_SPAN = 45 * 60
STAGGER = 4 * 60
FIRST_LOOK = "timestamp-in-system-prompt"
WAIT_SECONDS = 120  # for serve to answer, for the agents, for their calls to be stored


class DemoError(RuntimeError):
    """The demo cannot go on; the message says why and what to do."""


@dataclass
class DemoOptions:
    data: Path | None = None
    host: str = "127.0.0.1"
    ui_port: int | None = None  # None: the usual port, or a free one if it is taken
    otlp_http_port: int | None = None
    sql_port: int | None = None
    open_browser: bool = True
    keep_running: bool = True


@dataclass
class DemoResult:
    ui: str
    runs: dict[str, list[str]]  # agent name -> its top-level run ids
    calls: int
    seconds: float
    notes: list[str] = field(default_factory=list)


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def choose_port(host: str, wanted: int | None, usual: int, what: str,
                notes: list[str]) -> int:
    """``wanted`` if given (0: any free port); else ``usual``, or a free port when
    something else holds it (a running ``tokentrail serve``, say)."""
    if wanted == 0:
        return free_port(host)
    if wanted is not None:
        if not port_is_free(host, wanted):
            raise DemoError(f"port {wanted} ({what}) is in use; pick another or 0 for any")
        return wanted
    if port_is_free(host, usual):
        return usual
    port = free_port(host)
    notes.append(f"port {usual} ({what}) is in use, so the demo's is {port}")
    return port


def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment of the demo's children: none of the user's TOKENTRAIL_* or
    OTEL_* settings (a TOKENTRAIL_CLICKHOUSE would send the demo into their server)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TOKENTRAIL_", "OTEL_"))}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def _check_sdk() -> None:
    try:
        import anthropic  # noqa: F401
    except ImportError:
        raise DemoError("the demo's agents need the anthropic SDK: "
                        "pip install 'tokentrail[demo]'") from None


class _Serve:
    """``tokentrail serve`` as a child process, its output in a log file."""

    def __init__(self, data: Path, host: str, ports: dict[str, int], log: Path) -> None:
        self.log_path = log
        self.ui = f"http://{host}:{ports['ui']}"
        self.otlp = f"http://{host}:{ports['otlp']}"
        self.sql = f"http://{host}:{ports['sql']}"
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tokentrail", "serve", "--data", str(data),
             "--host", host, "--ui-port", str(ports["ui"]),
             "--otlp-http-port", str(ports["otlp"]), "--otlp-grpc-port", str(ports["grpc"]),
             "--sql-port", str(ports["sql"]), "--log-level", "warning"],
            stdout=self._log, stderr=subprocess.STDOUT, env=_clean_env({}),
            start_new_session=True)  # Ctrl-C reaches the demo, which stops serve once

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise DemoError(f"tokentrail serve exited:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.ui}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise DemoError(f"tokentrail serve did not answer {self.ui}/healthz within "
                        f"{timeout:.0f} s:\n{self.log_tail()}")

    def stored_calls(self, run_ids: list[str]) -> int:
        """Calls of these runs and their sub-runs in llm_calls (SQL interface)."""
        query = ("SELECT count() FROM llm_calls WHERE run_id IN {ids:Array(String)} "
                 "OR parent_run_id IN {ids:Array(String)} FORMAT TabSeparated")
        array = "[" + ",".join("'" + r.replace("\\", "\\\\").replace("'", "\\'") + "'"
                               for r in run_ids) + "]"
        response = httpx.post(self.sql, params={"param_ids": array}, content=query,
                              timeout=10)
        response.raise_for_status()
        return int(response.text.strip())

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # drains, judges what arrived, stores
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def _agent_process(name: str, run_ids: list[str], emulator: str, otlp: str,
                   start: float) -> subprocess.Popen:
    """An agent's process, started early: it imports, then waits for :func:`_go`."""
    env = _clean_env({"OTEL_EXPORTER_OTLP_ENDPOINT": otlp, "OTEL_SERVICE_NAME": name,
                      "OTEL_BSP_SCHEDULE_DELAY": "500"})  # spans arrive while it runs
    return subprocess.Popen(
        [sys.executable, "-m", "tokentrail.demo.agent_process", emulator, name, *run_ids,
         "--start", f"{start:.3f}", "--wait-for-go"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env=env, start_new_session=True)


def _go(proc: subprocess.Popen) -> None:
    assert proc.stdin is not None
    proc.stdin.write("go\n")
    proc.stdin.close()


def _await(procs: dict[str, subprocess.Popen], say: Callable[[str], None],
           deadline: float) -> None:
    """Until every agent process exited; fails with the stderr of one that failed."""
    pending = dict(procs)
    while pending:
        for name, proc in list(pending.items()):
            if proc.poll() is None:
                continue
            del pending[name]
            err = proc.stderr.read() if proc.stderr else ""
            if proc.returncode != 0:
                raise DemoError(f"the {name} agent failed:\n{err[-3000:]}")
            say(f"  done  {name}: {AGENTS[name].teaches}")
        if time.monotonic() > deadline:
            raise DemoError(f"agents still running after {WAIT_SECONDS} s: "
                            + ", ".join(pending))
        time.sleep(0.05)


def _answered(emu) -> int:
    """Messages the emulator answered: the calls the store must end up with."""
    return sum(1 for r in emu.requests if r.path == "/v1/messages" and r.status == 200)


def _browser_available() -> bool:
    """A graphical browser, not a console one that would take over the terminal."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        return False
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


@contextlib.contextmanager
def _data_dir(data: Path | None) -> Iterator[tuple[Path, Path]]:
    """(store directory, scratch directory); a temporary store is deleted afterwards."""
    scratch = Path(tempfile.mkdtemp(prefix="tokentrail-demo-"))
    try:
        yield (data if data is not None else scratch / "data"), scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run_demo(options: DemoOptions, say: Callable[[str], None] = print) -> DemoResult:
    """Run the demo (see the module docstring); returns once it is over: at once with
    ``keep_running=False``, else after Ctrl-C / SIGTERM (KeyboardInterrupt)."""
    _check_sdk()
    began = time.monotonic()
    notes: list[str] = []
    host = options.host
    ports = {"ui": choose_port(host, options.ui_port, 8765, "UI", notes),
             "otlp": choose_port(host, options.otlp_http_port, 4318, "OTLP/HTTP", notes),
             "sql": choose_port(host, options.sql_port, 8123, "SQL", notes),
             "grpc": free_port(host)}
    suffix = os.urandom(3).hex()
    runs = {name: ([f"{name}-{suffix}"] if AGENTS[name].runs == 1 else
                   [f"{name}-{i}-{suffix}" for i in range(1, AGENTS[name].runs + 1)])
            for name in ORDER}
    with _data_dir(options.data) as (data, scratch):
        for note in notes:
            say(f"note: {note}")
        where = "a temporary store" if options.data is None else str(data)
        say(f"tokentrail demo: starting serve on {where}")
        scenario = Scenario(rules=[Rule(Reply(text="category: billing"), contains=CLASSIFY)])
        with running_emulator(scenario=scenario) as emu:
            serve = _Serve(data, host, ports, scratch / "serve.log")
            now = time.time()
            procs = {name: _agent_process(name, runs[name], emu.base_url, serve.otlp,
                                          now - DEMO_SPAN + i * STAGGER)
                     for i, name in enumerate(ORDER)}
            try:
                serve.wait_ready(WAIT_SECONDS)
                say(f"UI: {serve.ui}  (the runs appear as the agents make their calls)")
                if options.open_browser and _browser_available():
                    webbrowser.open(serve.ui)
                deadline = time.monotonic() + WAIT_SECONDS
                say(f"running {len(ORDER)} agents (the real anthropic SDK, "
                    "import tokentrail.auto, the emulator as the API):")
                # together, except the one that moves the emulator's clock: then alone
                for group in ([n for n in ORDER if not AGENTS[n].alone],
                              [n for n in ORDER if AGENTS[n].alone]):
                    for name in group:
                        _go(procs[name])
                    _await({name: procs[name] for name in group}, say, deadline)
                calls = _answered(emu)
                top = [r for ids in runs.values() for r in ids]
                stored = -1
                while stored != calls:
                    stored = serve.stored_calls(top)
                    if time.monotonic() > deadline:
                        raise DemoError(f"{stored} of {calls} calls reached the store within "
                                        f"{WAIT_SECONDS} s:\n{serve.log_tail()}")
                    time.sleep(0.2)
                result = DemoResult(serve.ui, runs, calls, time.monotonic() - began, notes)
                _print_guide(result, serve, emu.base_url, say)
                if options.keep_running:
                    after = "" if options.data else " (then the temporary store is deleted)"
                    say(f"Serving until Ctrl-C{after}.")
                    while serve.proc.poll() is None:
                        time.sleep(0.5)
                    raise DemoError(f"tokentrail serve exited:\n{serve.log_tail()}")
                return result
            finally:
                for proc in procs.values():
                    if proc.poll() is None:
                        proc.kill()
                    proc.wait()
                code = serve.stop()
                if code not in (0, None) and sys.exc_info()[0] is None:
                    raise DemoError(f"tokentrail serve stopped with exit code {code}:\n"
                                    f"{serve.log_tail()}")


def _print_guide(result: DemoResult, serve: _Serve, emulator: str,
                 say: Callable[[str], None]) -> None:
    ui = result.ui
    first = result.runs[FIRST_LOOK][0]
    say("")
    say(f"{len(result.runs)} agents made {result.calls} calls in {result.seconds:.1f} s; "
        f"all of them are in the store. Open {ui}")
    say("Look first at:")
    say(f"  1. {ui}/runs/{first}")
    say("     the agent with a timestamp in its system prompt: a marker on every call is a")
    say("     cache miss; click one to see what changed in the prompt (the call diff)")
    say(f"  2. {ui}/insights")
    say("     what to change, and what each change would save")
    say("Then the others, each named for what it teaches:")
    for name, ids in result.runs.items():
        if name != FIRST_LOOK:
            say(f"  {name}: {AGENTS[name].teaches}")
            say(f"    {ui}/runs/{ids[0]}")
    say("Your own agent (with import tokentrail.auto), no API key needed while this runs:")
    say(f"  ANTHROPIC_BASE_URL={emulator} ANTHROPIC_API_KEY=sk-ant-any "
        f"OTEL_EXPORTER_OTLP_ENDPOINT={serve.otlp} python your_agent.py")
    query = "SELECT run_name, count() AS calls, sum(cost_usd) FROM llm_calls GROUP BY run_name"
    say(f"SQL: curl '{serve.sql}/' --data-binary '{query}'")


def result_json(result: DemoResult) -> str:
    return json.dumps({"ui": result.ui, "runs": result.runs, "calls": result.calls,
                       "seconds": round(result.seconds, 1)})
