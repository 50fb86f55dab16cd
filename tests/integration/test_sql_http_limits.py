"""The SQL interface's guards on a live `tokentrail serve`: per-query time and memory
limits the engine enforces (a request may lower them, never raise them), the cap on
concurrent queries (503 + Retry-After in ClickHouse's error shape), the token as
ClickHouse clients send it, the writable mode of a split deployment (a second store
process writing through it) and queries cancelled when the client leaves or serve stops."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import clickhouse_connect
import httpx
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from tests.integration.serve import Serve
from tests.waiting import wait_until
from tokentrail.store import Store

pytestmark = pytest.mark.integration

TOKEN = "s3cret-sql-token"
HEAVY = "SELECT count() FROM numbers(100000000000) WHERE cityHash64(number) % 7 = 1"
SLOW = "SELECT sleepEachRow(1) FROM numbers(30)"  # 30 s, one row per second (max_block_size=1)


@contextmanager
def _serving_with(tmp_path, **env: str) -> Iterator[Serve]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(f"TOKENTRAIL_{name}", value)
        server = Serve(tmp_path / "data")
        server.start()  # the environment is read at start
    try:
        yield server
    finally:
        if server.proc and server.proc.poll() is None:
            server.stop()


@pytest.fixture(scope="module")
def limited(tmp_path_factory) -> Iterator[Serve]:
    with _serving_with(tmp_path_factory.mktemp("limited"), SQL_MAX_EXECUTION_TIME="1.5",
                       SQL_MAX_MEMORY_USAGE=str(100 << 20), SQL_TOKEN=TOKEN) as server:
        yield server


def _get(server: Serve, params: dict, **kwargs) -> httpx.Response:
    kwargs.setdefault("auth", ("anyone", TOKEN))
    return httpx.get(f"{server.sql}/", params=params, timeout=60, **kwargs)


def test_time_limit_is_the_engines_and_cannot_be_raised(limited):
    for extra in ({}, {"max_execution_time": "1000"}):
        response = _get(limited, {"query": HEAVY, **extra})
        assert response.status_code == 408, response.text
        assert response.headers["X-ClickHouse-Exception-Code"] == "159"
        assert "maximum: 1.500 s" in response.text or "maximum: 1500.000 ms" in response.text, \
            response.text
    lower = _get(limited, {"query": HEAVY, "max_execution_time": "0.2"})
    assert lower.headers["X-ClickHouse-Exception-Code"] == "159"
    assert "maximum: 200.000 ms" in lower.text, lower.text


def test_memory_limit_is_the_engines_and_cannot_be_raised(limited):
    query = "SELECT length(groupArray(number)) FROM numbers(100000000)"
    for extra in ({}, {"max_memory_usage": str(50 << 30)}):
        response = _get(limited, {"query": query, **extra})
        assert response.status_code == 500, response.text
        assert response.headers["X-ClickHouse-Exception-Code"] == "241"  # MEMORY_LIMIT_EXCEEDED
    assert _get(limited, {"query": "SELECT length(groupArray(number)) FROM numbers(1000)"}).text \
        == "1000\n"


@pytest.mark.parametrize(("kwargs", "ok"), [
    ({"auth": ("anyone", TOKEN)}, True),
    ({"auth": ("default", "wrong")}, False),
    ({"auth": None}, False),
    ({"auth": None, "headers": {"X-ClickHouse-User": "grafana", "X-ClickHouse-Key": TOKEN}}, True),
    ({"auth": None, "headers": {"X-ClickHouse-Key": "wrong"}}, False),
    ({"auth": None, "headers": {"Authorization": f"Bearer {TOKEN}"}}, True),
    ({"auth": None, "extra": {"user": "default", "password": TOKEN}}, True),
    ({"auth": ("default", TOKEN), "extra": {"user": "default", "password": TOKEN}}, False),
])
def test_token_as_clickhouse_clients_send_it(limited, kwargs, ok):
    kwargs = dict(kwargs)
    params = {"query": "SELECT 42", **kwargs.pop("extra", {})}
    response = _get(limited, params, **kwargs)
    if ok:
        assert (response.status_code, response.text) == (200, "42\n")
    else:
        assert response.status_code == 403, response.text
        assert response.headers["X-ClickHouse-Exception-Code"] == "516"
        assert re.match(r"Code: 516\. DB::Exception: .*\(AUTHENTICATION_FAILED\) \(version ",
                        response.text)


def test_token_with_clickhouse_connect(limited):
    client = clickhouse_connect.get_client(host="127.0.0.1", port=limited.sql_port,
                                           username="analyst", password=TOKEN)
    try:
        assert client.command("SELECT 7") == 7
    finally:
        client.close()
    with pytest.raises(DatabaseError, match="AUTHENTICATION_FAILED"):
        clickhouse_connect.get_client(host="127.0.0.1", port=limited.sql_port, password="nope")
    assert httpx.get(f"{limited.sql}/ping", timeout=10).text == "Ok.\n"  # no auth, as ClickHouse


def test_concurrency_cap_and_cancel_on_disconnect(tmp_path):
    with _serving_with(tmp_path, SQL_MAX_CONCURRENT_QUERIES="1") as server, \
            httpx.Client(timeout=60) as http:
        slow = http.send(http.build_request(
            "GET", f"{server.sql}/", params={"query": SLOW, "max_block_size": "1"}), stream=True)
        assert slow.status_code == 200  # the first row is out: the query holds the slot
        refused = http.get(f"{server.sql}/", params={"query": "SELECT 1"})
        assert refused.status_code == 503, refused.text
        assert refused.headers["Retry-After"] == "1"
        assert refused.headers["X-ClickHouse-Exception-Code"] == "202"
        assert re.match(r"Code: 202\. DB::Exception: Too many simultaneous queries\. Maximum: 1\."
                        r" \(TOO_MANY_SIMULTANEOUS_QUERIES\) \(version [\d.]+\)\n\Z", refused.text)
        slow.close()  # the client leaves: the engine query is cancelled, the slot freed
        answer = wait_until(lambda: http.get(f"{server.sql}/", params={"query": "SELECT 1"}),
                            until=lambda r: r.status_code == 200, timeout=20,
                            message="a query is accepted once the slow one's client left")
        assert answer.text == "1\n"


def test_shutdown_cancels_running_queries(tmp_path):
    body: list[bytes] = []
    with _serving_with(tmp_path) as server, httpx.Client(timeout=60) as http:
        slow = http.send(http.build_request(
            "GET", f"{server.sql}/", params={"query": SLOW, "max_block_size": "1"}), stream=True)
        reader = threading.Thread(target=lambda: body.extend(slow.iter_bytes()), daemon=True)
        reader.start()
        code, output = server.stop()
        reader.join(30)
    assert code == 0, output
    assert b"QUERY_WAS_CANCELLED" in b"".join(body)  # the engine query was killed, not left


def test_writable_mode_serves_a_second_store_process(tmp_path):
    """The split deployment: another process opens the store through the SQL interface
    (clickhouse-connect over HTTP), reads the runs and writes."""
    with _serving_with(tmp_path, SQL_WRITABLE="1", SQL_TOKEN=TOKEN) as server:
        store = Store.open(f"http://writer:{TOKEN}@127.0.0.1:{server.sql_port}")
        try:
            assert store.schema_version() >= 1  # migrations ran through the interface
            assert store.runs() == []
            store.client.command("CREATE TABLE scratch (a UInt64, s String, "
                                 "m Map(LowCardinality(String), String)) "
                                 "ENGINE = MergeTree ORDER BY a")
            rows = [[i, f"s{i}", {"k": str(i)}] for i in range(20_000)]
            store.insert("scratch", rows, ["a", "s", "m"])
            assert store.query("SELECT count() AS n, sum(a) AS total FROM scratch") \
                == [{"n": 20_000, "total": sum(range(20_000))}]
        finally:
            store.close()
        get_insert = httpx.get(f"{server.sql}/", auth=("u", TOKEN), timeout=30, params={
            "query": "INSERT INTO scratch (a, s) VALUES (1, 'x')"})
        assert get_insert.headers["X-ClickHouse-Exception-Code"] == "164"  # GET is read-only
        assert httpx.get(f"{server.sql}/", auth=("u", "wrong"), timeout=30,
                         params={"query": "SELECT 1"}).status_code == 403


@pytest.mark.parametrize(("env", "args", "needle"), [
    ({"TOKENTRAIL_SQL_WRITABLE": "1"}, [], "TOKENTRAIL_SQL_TOKEN"),
    ({"TOKENTRAIL_INGEST_TOKEN": "a", "TOKENTRAIL_UI_TOKEN": "b"}, ["--host", "0.0.0.0"],
     "TOKENTRAIL_SQL_TOKEN"),
])
def test_refuses_to_start_without_the_sql_token(tmp_path, env, args, needle):
    base = {k: v for k, v in os.environ.items() if not k.startswith("TOKENTRAIL_")}
    result = subprocess.run(
        [sys.executable, "-m", "tokentrail", "serve", "--data", str(tmp_path), *args],
        capture_output=True, text=True, timeout=60, env={**base, **env})
    assert result.returncode == 2, result.stderr
    assert needle in result.stderr
