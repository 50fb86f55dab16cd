"""``tokentrail doctor``: every check fails for real (an unwritable store directory, an
embedded store another process has open, a port another program holds, nothing
listening at the exporter endpoint) and passes against a real ``tokentrail serve``."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import REPO, free_port
from tests.integration.serve import serving
from tokentrail.cli import cli
from tokentrail.doctor import FAIL, OK, WARN, _version_tuple, check_sdk


def doctor(*args: str, **env: str):
    ports = {"TOKENTRAIL_OTLP_HTTP_PORT": str(free_port()),
             "TOKENTRAIL_OTLP_GRPC_PORT": str(free_port()),
             "TOKENTRAIL_UI_PORT": str(free_port()), "TOKENTRAIL_SQL_PORT": str(free_port())}
    return CliRunner().invoke(cli, ["doctor", *args], env={**ports, **env})


def lines_of(output: str, name: str) -> list[str]:
    return [line for line in output.splitlines() if f" {name}: " in line]


def test_unwritable_store_directory_is_a_problem(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = doctor("--data", str(blocker / "data"),
                    "--endpoint", f"http://127.0.0.1:{free_port()}/v1/traces")
    assert result.exit_code == 1, result.output
    [store] = lines_of(result.output, "store")
    assert store.startswith(f"{FAIL}  store: cannot write the embedded store at {blocker}")
    assert "Not a directory" in store
    assert "fix: use a writable directory: --data DIR" in result.output


def test_writable_store_directory_is_fine(tmp_path: Path) -> None:
    result = doctor("--data", str(tmp_path / "new" / "data"))
    [store] = lines_of(result.output, "store")
    assert store == f"  {OK}  store: embedded store {tmp_path / 'new' / 'data'} is writable"
    assert (tmp_path / "new" / "data").is_dir()
    assert list((tmp_path / "new" / "data").iterdir()) == []  # the probe file is gone


# A second process that opens the embedded store the way every command does, and keeps
# it open until it is killed.
HOLD_STORE = """
import sys, time
from tokentrail.store import Store
store = Store.open("chdb://" + sys.argv[1])
print("open", flush=True)
time.sleep(600)
"""


def test_a_store_another_process_has_open_is_a_problem(tmp_path: Path) -> None:
    """chDB lets one process open a data directory; doctor names the one that has it
    (the directory itself is writable all along). Once it is gone the store is fine
    again, although a process killed with the store open leaves the engine's status
    file behind (unlocked)."""
    data = tmp_path / "data"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_STORE, str(data)], cwd=REPO,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "open\n", "the holder could not open the store"
        held = doctor("--data", str(data), TOKENTRAIL_SQL_PORT="8124")
    finally:
        holder.kill()
        holder.communicate(timeout=60)
    assert held.exit_code == 1, held.output
    [store] = lines_of(held.output, "store")
    assert store.startswith(f"{FAIL}  store: embedded store {data} is owned by a running "
                            f"process (pid {holder.pid}: {sys.executable} -c "), store
    assert store.endswith("serve cannot open it (one process per embedded store)")
    assert ("fix: stop it, or, if it is a tokentrail serve, point your tools at its SQL "
            "interface instead of the directory: --clickhouse http://127.0.0.1:8124 or "
            "TOKENTRAIL_CLICKHOUSE") in held.output

    assert (data / "status").exists()  # left behind by the killed engine
    released = doctor("--data", str(data))
    [store] = lines_of(released.output, "store")
    assert store == f"  {OK}  store: embedded store {data} is writable"


@pytest.mark.integration
def test_the_store_of_a_running_serve_is_a_warning(tmp_path: Path) -> None:
    """serve owning its store is how it should be: a warning (exit 0) that says the
    other commands need its SQL interface."""
    data = tmp_path / "data"
    with serving(data) as server:
        result = doctor("--data", str(data),
                        TOKENTRAIL_OTLP_HTTP_PORT=str(server.otlp_port),
                        TOKENTRAIL_OTLP_GRPC_PORT=str(server.grpc_port),
                        TOKENTRAIL_UI_PORT=str(server.ui_port),
                        TOKENTRAIL_SQL_PORT=str(server.sql_port),
                        OTEL_EXPORTER_OTLP_ENDPOINT=server.otlp)
        pid = server.proc.pid
    assert result.exit_code == 0, result.output
    [store] = lines_of(result.output, "store")
    assert store.startswith(f"{WARN}  store: embedded store {data} is owned by a running "
                            f"process (pid {pid}: "), store
    assert " tokentrail serve " in store
    assert store.endswith("other commands cannot open it while serve runs")
    assert (f"fix: point your tools at its SQL interface instead of the directory: "
            f"--clickhouse http://127.0.0.1:{server.sql_port} or TOKENTRAIL_CLICKHOUSE "
            "(the port of its --sql-port), or stop it") in result.output
    assert result.output.endswith("no problems found\n")


def test_busy_port_is_a_problem(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = doctor("--data", str(tmp_path / "data"), TOKENTRAIL_UI_PORT=str(port))
    assert result.exit_code == 1, result.output
    [ports] = lines_of(result.output, "ports")
    assert ports == (f"{FAIL}  ports: port {port} (UI) on 127.0.0.1 is taken by another "
                     "program")
    assert "--ui-port N or TOKENTRAIL_UI_PORT=N" in result.output


def test_a_port_in_time_wait_is_free(tmp_path: Path) -> None:
    """A serve that just stopped leaves its connections' port in TIME_WAIT; the next
    serve binds it (SO_REUSEADDR, as uvicorn does), so doctor must not call it taken."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn's
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the side that closes first holds TIME_WAIT on `port`
        client.close()
    result = doctor("--data", str(tmp_path / "data"), TOKENTRAIL_UI_PORT=str(port))
    [ports] = lines_of(result.output, "ports")
    assert ports.startswith(f"  {OK}  ports:"), result.output


def test_unreachable_endpoint_is_a_problem(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}/v1/traces"  # nothing listens there
    result = doctor("--data", str(tmp_path / "data"), "--endpoint", endpoint)
    assert result.exit_code == 1, result.output
    [line] = lines_of(result.output, "exporter endpoint")
    assert line.startswith(f"{FAIL}  exporter endpoint: nothing answers at {endpoint}")
    assert "start `tokentrail serve`" in result.output


@pytest.mark.integration
def test_all_fine_against_a_running_serve(tmp_path: Path) -> None:
    """serve holds the ports (that is fine), its collector accepts the empty export."""
    with serving(tmp_path / "serve-data") as server:
        result = doctor("--data", str(tmp_path / "other"),
                        TOKENTRAIL_OTLP_HTTP_PORT=str(server.otlp_port),
                        TOKENTRAIL_OTLP_GRPC_PORT=str(server.grpc_port),
                        TOKENTRAIL_UI_PORT=str(server.ui_port),
                        TOKENTRAIL_SQL_PORT=str(server.sql_port),
                        OTEL_EXPORTER_OTLP_ENDPOINT=server.otlp)
    assert result.exit_code == 0, result.output
    assert f"tokentrail serve is running on 127.0.0.1 (UI on port {server.ui_port})" in (
        result.output)
    assert f"exporter endpoint: {server.otlp}/v1/traces accepts OTLP/HTTP traces" in (
        result.output)
    assert result.output.endswith("no problems found\n")


@pytest.mark.integration
def test_endpoint_with_an_ingest_token_says_which_header(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TOKENTRAIL_INGEST_TOKEN", "sekret")  # serve's, not the agent's
    with serving(tmp_path / "data") as server:
        refused = doctor("--data", str(tmp_path / "x"), "--endpoint", f"{server.otlp}/v1/traces")
        accepted = doctor("--data", str(tmp_path / "x"), "--endpoint",
                          f"{server.otlp}/v1/traces",
                          OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer%20sekret")
    assert refused.exit_code == 1 and "it wants a token" in refused.output
    assert "OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<token>" in refused.output
    [line] = lines_of(accepted.output, "exporter endpoint")
    assert line.strip().startswith(f"{OK}  exporter endpoint:")


def test_sdk_version_range(monkeypatch) -> None:
    """The range, on version strings: installing every anthropic release here is not
    possible, so the installed version is replaced (the one stand-in in this module)."""
    assert _version_tuple("0.40.1") == (0, 40) and _version_tuple("2.15.0rc1") == (2, 15)
    from importlib import metadata

    for version, status in (("0.39.0", FAIL), ("0.40.0", OK), ("2.15.0", OK),
                            ("3.0.0", FAIL)):
        monkeypatch.setattr(metadata, "version", lambda name, v=version: v)
        assert check_sdk().status == status, version

    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    assert check_sdk().status == WARN
