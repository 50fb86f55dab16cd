"""The command line: help everywhere, clear errors, the emulator command serves."""

from __future__ import annotations

import subprocess
import sys

import anthropic
import httpx
import pytest
from click.testing import CliRunner

from tests.conftest import free_port
from tests.waiting import wait_until
from tokentrail.cli import cli


def _commands(group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name)
        if hasattr(command, "commands"):
            yield from _commands(command, (*prefix, name))


@pytest.mark.parametrize("path", [(), *_commands(cli)], ids=lambda p: " ".join(p) or "root")
def test_every_command_has_help(path):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert len(result.output.splitlines()) > 3


def test_bad_setting_is_a_usage_error(monkeypatch):
    monkeypatch.setenv("TOKENTRAIL_UI_PORT", "not-a-port")
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 2
    assert "ui_port" in result.output


def test_import_without_transcripts_says_so(tmp_path):
    result = CliRunner().invoke(cli, ["import", "claude-code", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "no such file or directory" in result.output


@pytest.mark.sdk
def test_emulator_command_serves_the_sdk(tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tokentrail", "emulator", "--port",
                             str(port), "--log-level", "warning"])
    try:
        wait_until(lambda: proc.poll() is not None or httpx.get(
                       f"http://127.0.0.1:{port}/v1/models", timeout=1) is not None,
                   timeout=30, ignore=(httpx.TransportError,),
                   message=f"`tokentrail emulator` answers HTTP on port {port}")
        assert proc.poll() is None, f"the emulator exited with {proc.returncode}"
        client = anthropic.Anthropic(base_url=f"http://127.0.0.1:{port}", api_key="sk-ant-x")
        message = client.messages.create(model="claude-haiku-4-5", max_tokens=20,
                                         messages=[{"role": "user", "content": "hi"}])
        assert message.usage.input_tokens > 0
    finally:
        proc.terminate()
        proc.wait(30)
