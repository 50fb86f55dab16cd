"""How tokentrail gets into a process: the `opentelemetry-instrument` launcher, `import
tokentrail.auto` with the kill switches, and next to a provider the application set up.

Each case runs a fresh Python process (providers and patches are process-global), with
the real SDK over HTTP to the emulator, and reports what it saw as JSON on stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from tests.conftest import REPO
from tokentrail import semconv as sc

pytestmark = pytest.mark.sdk

# A plain agent: no tokentrail import, one call; what tokentrail needs comes from outside.
PLAIN_AGENT = """
import sys
import anthropic
from tests.emulator.helpers import API_KEY
client = anthropic.Anthropic(base_url=sys.argv[1], api_key=API_KEY, max_retries=0)
reply = client.messages.create(model="claude-sonnet-4-6", max_tokens=20,
                               messages=[{"role": "user", "content": "launch test"}])
print("reply", reply.id, file=sys.stderr)
"""


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OTEL_", "TOKENTRAIL_"))}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


def run_python(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def json_objects(text: str) -> list[dict]:
    """The JSON objects of a stream of pretty-printed documents (the console exporter)."""
    decoder, out, i = json.JSONDecoder(), [], 0
    while True:
        start = text.find("{", i)
        if start < 0:
            return out
        value, i = decoder.raw_decode(text, start)
        out.append(value)


def fake_distribution(root: Path) -> Path:
    """A dist-info registering the SDK's configurator, as ``opentelemetry-distro`` does.

    Without a configurator ``opentelemetry-instrument`` instruments but sets up no
    provider (and OTEL_TRACES_EXPORTER means nothing); users get one from the distro.
    """
    dist = root / "tt_launch_configurator-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tt-launch-configurator\n"
                                   "Version: 0\n")
    (dist / "entry_points.txt").write_text(
        "[opentelemetry_configurator]\n"
        "sdk = opentelemetry.sdk._configuration:_OTelSDKConfigurator\n")
    return root


def launch(tmp_path: Path, agent_source: str, base_url: str, *, configurator: bool,
           **extra: str) -> subprocess.CompletedProcess[str]:
    launcher = Path(sys.executable).with_name("opentelemetry-instrument")
    if not launcher.exists():
        pytest.skip(f"opentelemetry-instrument is not installed next to {sys.executable}")
    names = {e.name for e in entry_points(group="opentelemetry_instrumentor")}
    assert "tokentrail_anthropic" in names  # the entry point this test goes through
    agent = tmp_path / "agent.py"
    agent.write_text(agent_source)
    env = clean_env(OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none",
                    # other anthropic instrumentations installed here (peers): not this test
                    OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=",".join(
                        sorted(names - {"tokentrail_anthropic"})), **extra)
    if configurator:
        site = fake_distribution(tmp_path / "site")
        env["PYTHONPATH"] = os.pathsep.join([str(site), env["PYTHONPATH"]])
    return run_python([str(launcher), sys.executable, str(agent), base_url], env)


def test_opentelemetry_instrument_launcher(tmp_path: Path, emu) -> None:
    done = launch(tmp_path, PLAIN_AGENT, emu.base_url, configurator=True,
                  OTEL_TRACES_EXPORTER="console", OTEL_SERVICE_NAME="launched-agent")
    spans = [s for s in json_objects(done.stdout)
             if sc.GEN_AI_USAGE_INPUT_TOKENS in s.get("attributes", {})]
    assert len(spans) == 1, done.stdout[-3000:]  # one span per call, enriched or our own
    (span,) = spans
    attrs = span["attributes"]
    assert attrs[sc.TURN] == 1 and attrs[sc.RUN_ID]
    assert attrs[sc.PREFIX_PARAMS_HASH]
    assert attrs[sc.GEN_AI_REQUEST_MODEL] == "claude-sonnet-4-6"
    assert span["resource"]["attributes"]["service.name"] == "launched-agent"


APP_PROVIDER_AGENT = """
import json, sys
import anthropic
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tests.emulator.helpers import API_KEY

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)  # after the launcher instrumented: tracers bind late
client = anthropic.Anthropic(base_url=sys.argv[1], api_key=API_KEY, max_retries=0)
client.messages.create(model="claude-sonnet-4-6", max_tokens=20,
                       messages=[{"role": "user", "content": "launch test"}])
print(json.dumps([{k: v for k, v in s.attributes.items() if not isinstance(v, tuple)}
                  for s in exporter.get_finished_spans()]))
"""


def test_opentelemetry_instrument_without_distro_uses_the_apps_provider(tmp_path: Path,
                                                                        emu) -> None:
    done = launch(tmp_path, APP_PROVIDER_AGENT, emu.base_url, configurator=False)
    spans = [a for a in json.loads(done.stdout.strip().splitlines()[-1])
             if sc.GEN_AI_USAGE_INPUT_TOKENS in a]
    assert len(spans) == 1
    assert spans[0][sc.TURN] == 1 and spans[0][sc.PREFIX_PARAMS_HASH]


PROBE_AUTO = """
import json, sys
import anthropic._base_client as base
import wrapt
from opentelemetry import trace
import tokentrail.auto
print(json.dumps({
    "instrumentor": tokentrail.auto.instrumentor is not None,
    "provider": type(trace.get_tracer_provider()).__name__,
    "patched": isinstance(vars(base.SyncAPIClient)["request"], wrapt.FunctionWrapper),
}))
"""


@pytest.mark.parametrize("switch", [{"TOKENTRAIL_DISABLED": "1"},
                                    {"OTEL_SDK_DISABLED": "true"}], ids=lambda e: next(iter(e)))
def test_auto_import_kill_switches(switch: dict[str, str]) -> None:
    done = run_python([sys.executable, "-c", PROBE_AUTO], clean_env(**switch))
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"instrumentor": False, "provider": "ProxyTracerProvider",
                      "patched": False}


def test_auto_import_enabled_sets_up_provider_and_patch() -> None:
    """The control for the kill switches: the same probe, nothing set."""
    done = run_python([sys.executable, "-c", PROBE_AUTO],
                      clean_env(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9"))
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"instrumentor": True, "provider": "TracerProvider", "patched": True}


EXISTING_PROVIDER = """
import json, sys
import anthropic
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tests.emulator.helpers import API_KEY

exporter = InMemorySpanExporter()
app_provider = TracerProvider()
app_provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(app_provider)

import tokentrail.auto  # after the application's own setup

client = anthropic.Anthropic(base_url=sys.argv[1], api_key=API_KEY, max_retries=0)
client.messages.create(model="claude-sonnet-4-6", max_tokens=20,
                       messages=[{"role": "user", "content": "existing provider"}])
processors = app_provider._active_span_processor._span_processors
spans = [dict(s.attributes) for s in exporter.get_finished_spans()]
print(json.dumps({
    "same_provider": trace.get_tracer_provider() is app_provider,
    "processors": [type(p).__name__ for p in processors],
    "spans": [{k: v for k, v in a.items() if isinstance(v, (str, int, float, bool))}
              for a in spans],
}))
"""


def test_auto_import_keeps_the_applications_provider(emu) -> None:
    # An OTLP endpoint nobody listens on: were a second provider/exporter set up, the
    # spans would not reach the app's exporter and the processor list would show it.
    env = clean_env(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9")
    done = run_python([sys.executable, "-c", EXISTING_PROVIDER, emu.base_url], env)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["same_provider"] is True
    assert report["processors"] == ["SimpleSpanProcessor"]  # only the app's
    calls = [a for a in report["spans"] if sc.GEN_AI_USAGE_INPUT_TOKENS in a]
    assert len(calls) == 1
    assert calls[0][sc.TURN] == 1 and calls[0][sc.RUN_ID]
    assert calls[0][sc.PREFIX_PARAMS_HASH]

