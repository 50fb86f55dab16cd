"""Claude Code (the real CLI from npm) runs a tool-using session against the emulator.

The CLI is installed once into ``.cache/claude-code/`` under the repository (reused by
later runs). No network beyond the npm registry is needed: Claude Code is pointed at
the emulator and its non-essential traffic is switched off.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tokentrail.emulator import Clock, running_emulator
from tokentrail.emulator.scenario import DEFAULT_TEXT

REPO = Path(__file__).resolve().parents[2]
PREFIX = REPO / ".cache" / "claude-code"
CLAUDE = PREFIX / "node_modules" / ".bin" / "claude"


def claude_binary() -> Path:
    if not CLAUDE.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not on PATH: cannot install @anthropic-ai/claude-code")
        PREFIX.mkdir(parents=True, exist_ok=True)
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error",
                        "--prefix", str(PREFIX), "@anthropic-ai/claude-code"],
                       check=True, timeout=600, capture_output=True)
    return CLAUDE


@pytest.fixture(scope="module")
def claude() -> Path:
    if shutil.which("npm") is None and not CLAUDE.exists():
        pytest.skip("npm is not on PATH: cannot install @anthropic-ai/claude-code")
    return claude_binary()


def test_claude_code_tool_session_reads_its_own_cache(claude: Path, tmp_path: Path) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    with running_emulator(clock=Clock(frozen=True)) as emu:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "ANTHROPIC_BASE_URL": emu.base_url,
            "ANTHROPIC_API_KEY": "sk-ant-emulator",
            # No internet here: no update checks, telemetry or error reporting.
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
        }
        proc = subprocess.run(
            [str(claude), "-p", "Run the shell command: echo hi", "--allowedTools", "Bash",
             "--output-format", "json"],
            cwd=work, env=env, capture_output=True, text=True, timeout=120, check=False)
        calls = emu.calls()
        failed = [r.as_dict() for r in emu.requests if r.status >= 400 and r.path != "/"]

    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    assert result["is_error"] is False, result
    assert result["result"] == DEFAULT_TEXT
    assert failed == []

    # The session: a Bash tool call, then (with its result) the final answer. Helper
    # calls Claude Code may add (quota probe, titles) carry no tools; skip them.
    agent_calls = [c for c in calls if c.body.get("tools")]
    assert len(agent_calls) == 2, [(c.model, c.content_types) for c in calls]
    first, second = agent_calls
    assert "tool_use" in first.content_types and first.stop_reason == "tool_use"
    assert second.stop_reason == "end_turn"
    tool_results = [b for m in second.body["messages"] if isinstance(m["content"], list)
                    for b in m["content"] if b.get("type") == "tool_result"]
    assert tool_results, "Claude Code did not send the tool result back"
    output = json.dumps(tool_results[-1]["content"])
    assert "hi" in output and tool_results[-1].get("is_error") is not True

    # The second request reads the cache the first one wrote.
    assert first.cache["writes"], first.cache
    assert second.cache["read_writer"] == first.message_id
    written = {w["prefix_tokens"] for w in first.cache["writes"]}
    assert second.usage["cache_read_input_tokens"] in written
    assert second.usage["cache_read_input_tokens"] > 0

    # Claude Code's own accounting reports the emulator's numbers.
    for key in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens",
                "output_tokens"):
        assert result["usage"][key] == sum(c.usage[key] for c in calls), key
