"""An agent whose collector is not there yet: ``python -m tests.demo.unreachable_agent``.

``import tokentrail.auto`` exports to ``OTEL_EXPORTER_OTLP_ENDPOINT`` (the test points it
at a closed localhost port); the agent makes calls with the real anthropic SDK against
the emulator and flushes after each, so each batch is a failed export with its retries.
Then it logs a record of its own on the exporter's logger (not tokentrail's to hold
back), prints ``waiting`` and waits for a line on stdin (the test starts a real
collector on that port meanwhile), and makes one more call, which now arrives.
"""

from __future__ import annotations

import logging
import sys

import anthropic
from opentelemetry import trace

import tokentrail.auto  # noqa: F401
from tokentrail.emulator import running_emulator

EXPORTER_LOGGER = "opentelemetry.exporter.otlp.proto.http.trace_exporter"


def call(client: anthropic.Anthropic) -> None:
    client.messages.create(model="claude-sonnet-4-5", max_tokens=32,
                           messages=[{"role": "user", "content": "hello"}])
    trace.get_tracer_provider().force_flush()


def main() -> None:
    with running_emulator() as emu:
        client = anthropic.Anthropic(base_url=emu.base_url, api_key="sk-ant-test",
                                     max_retries=0)
        for _ in range(2):  # two batches, each retried until the exporter gives up
            call(client)
        logging.getLogger(EXPORTER_LOGGER).warning("the application's own record")
        print("waiting", flush=True)
        sys.stdin.readline()
        call(client)
    print("done", flush=True)


if __name__ == "__main__":
    main()
