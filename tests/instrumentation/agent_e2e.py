"""The agent of the end-to-end test: `import tokentrail.auto`, then three turns.

Run as a subprocess (argv: emulator base URL) so that ``tokentrail.auto`` sets up the
global provider and its OTLP exporter exactly as in a user's process. Prints the usage
of each response as JSON lines for the test to compare with ``llm_calls``, and exits
only once its spans are exported (non-zero if they could not be).
"""

from __future__ import annotations

import json
import sys

import anthropic  # patched at class level: import order does not matter
from opentelemetry import trace

import tokentrail.auto  # noqa: F401  (the one import under test)
from tests.emulator.helpers import API_KEY, text_of
from tokentrail.instrumentation import run

SYSTEM = [{"type": "text", "text": text_of(3000, "e2e"), "cache_control": {"type": "ephemeral"}}]


def main(base_url: str) -> None:
    client = anthropic.Anthropic(base_url=base_url, api_key=API_KEY, max_retries=0)
    messages: list = []
    with run("e2e", run_id="e2e-run"):
        for i in range(3):
            messages.append({"role": "user", "content": text_of(40, f"turn{i}")})
            reply = client.messages.create(model="claude-sonnet-4-6", max_tokens=20,
                                           system=SYSTEM, messages=messages)
            messages.append({"role": "assistant", "content": reply.content})
            u = reply.usage
            print(json.dumps({"id": reply.id, "input": u.input_tokens,
                              "read": u.cache_read_input_tokens,
                              "write": u.cache_creation_input_tokens,
                              "output": u.output_tokens}), flush=True)
    # The exporter sends every span and gets its answer before this returns, and serve
    # answers only once the rows are committed: the test can read them right away.
    if not trace.get_tracer_provider().force_flush(30_000):
        sys.exit("the spans were not exported within 30 s")


if __name__ == "__main__":
    main(sys.argv[1])
