"""The SQL interface of a live `tokentrail serve`, with spans arriving meanwhile, through
unmodified ClickHouse clients: clickhouse-connect (query, parameters, Native, Arrow,
pandas), its SQLAlchemy dialect, and plain HTTP as curl sends it. Every client must see
the rows the store's own reads (the UI's JSON API) return; writes are refused by the
engine's readonly setting, in ClickHouse's error shape."""

from __future__ import annotations

import gzip
import re
import threading
import zlib
from collections.abc import Iterator
from urllib.parse import quote

import clickhouse_connect
import httpx
import pytest
import sqlalchemy
from clickhouse_connect.driver.exceptions import DatabaseError

from tests.integration.serve import Serve, serving
from tests.otlp import NOW_NS, anthropic_call_attrs, span, to_otlp_json, trace_request
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

RUNS = {  # run id -> [(response id, uncached, read, write, output)]
    "sql-run-a": [("msg_a1", 40, 0, 2100, 55), ("msg_a2", 7, 2100, 300, 80)],
    "sql-run-b": [("msg_b1", 3, 0, 0, 12)],
}
COLUMNS = ["response_id", "run_id", "model", "input_tokens", "cache_read_tokens",
           "cache_write_5m_tokens", "output_tokens"]
ERROR_BODY = re.compile(r"^Code: (\d+)\. DB::Exception: .* \(([A-Z_]+)\) \(version [\d.]+\)\n\Z",
                        re.S)


def _post_spans(server: Serve, run_id: str, calls_: list[tuple], *, offset_s: int = 0) -> None:
    spans = [span(anthropic_call_attrs(response_id=rid, uncached=u, read=r, write=w, output=o,
                                       conversation=run_id),
                  start_ns=NOW_NS + (offset_s + i) * 1_000_000_000)
             for i, (rid, u, r, w, o) in enumerate(calls_)]
    response = httpx.post(f"{server.otlp}/v1/traces",
                          content=to_otlp_json(trace_request(spans, service="sql-agent")),
                          headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 200, response.text


class _Arrivals:
    """Spans of other runs keep arriving while the clients query."""

    def __init__(self, server: Serve) -> None:
        self.server = server
        self.stop = threading.Event()
        self.acked = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        i = 0
        while not self.stop.wait(0.05):
            _post_spans(self.server, f"live-{i % 5}", [(f"msg_live_{i}", 5, 10, 0, 3)],
                        offset_s=i)
            self.acked += 1
            i += 1


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Serve]:
    with serving(tmp_path_factory.mktemp("sql") / "data") as server:
        for run_id, run_calls in RUNS.items():
            _post_spans(server, run_id, run_calls)
        arrivals = _Arrivals(server)
        arrivals.thread.start()
        wait_until(lambda: arrivals.acked, timeout=30, message="live spans are being acked")
        yield server
        arrivals.stop.set()
        arrivals.thread.join(30)
        assert not arrivals.thread.is_alive()


def _store_rows(server: Serve, run_id: str) -> list[tuple]:
    """The store's own read of a run through the UI's JSON API (the run's calls in
    order, then each call's every column), as tuples of COLUMNS: not through the SQL
    interface these tests check."""
    run = httpx.get(f"{server.ui}/api/runs/{quote(run_id)}", timeout=10)
    assert run.status_code == 200, run.text
    rows = []
    for call in run.json()["calls"]:
        one = httpx.get(f"{server.ui}/api/calls/{quote(call['call_id'], safe='')}", timeout=10)
        assert one.status_code == 200, one.text
        rows.append(tuple(one.json()["call"][c] for c in COLUMNS))
    return rows


ORDERED = f"""SELECT {', '.join(COLUMNS)} FROM llm_calls WHERE run_id = {{run:String}}
              ORDER BY timestamp, call_id"""


@pytest.fixture()
def client(server):
    client = clickhouse_connect.get_client(host="127.0.0.1", port=server.sql_port)
    yield client
    client.close()


def test_clickhouse_connect_reads_the_store_rows(server, client):
    for run_id in RUNS:
        expected = _store_rows(server, run_id)
        assert [r[0] for r in expected] == [c[0] for c in RUNS[run_id]]
        native = client.query(ORDERED, parameters={"run": run_id})  # Native format
        assert native.column_names == tuple(COLUMNS)
        assert [tuple(row) for row in native.result_rows] == expected
        arrow = client.query_arrow(ORDERED, parameters={"run": run_id})
        assert list(zip(*(arrow.column(c).to_pylist() for c in COLUMNS), strict=True)) \
            == expected
        frame = client.query_df(ORDERED, parameters={"run": run_id})
        assert [tuple(row) for row in frame[COLUMNS].itertuples(index=False)] == expected
    assert client.command("SELECT count() FROM llm_calls WHERE run_id IN ('sql-run-a', "
                          "'sql-run-b')") == 3
    assert client.server_version  # version() and timezone() answered on connect


def test_clickhouse_connect_sees_spans_arrive(server, client):
    """A live store: a run posted now is readable at once, and as the API reads it."""
    _post_spans(server, "sql-run-late", [("msg_late_1", 1, 2, 3, 4)])
    rows = client.query(ORDERED, parameters={"run": "sql-run-late"}).result_rows
    assert [tuple(r) for r in rows] == _store_rows(server, "sql-run-late")
    assert rows[0][0] == "msg_late_1"


def test_sqlalchemy_dialect(server):
    engine = sqlalchemy.create_engine(f"clickhousedb://default:@127.0.0.1:{server.sql_port}"
                                      "/default")
    try:
        with engine.connect() as connection:
            rows = connection.execute(sqlalchemy.text(
                f"SELECT {', '.join(COLUMNS)} FROM llm_calls WHERE run_id = :run "
                "ORDER BY timestamp, call_id"), {"run": "sql-run-a"}).fetchall()
            assert [tuple(r) for r in rows] == _store_rows(server, "sql-run-a")
            table = sqlalchemy.Table("llm_calls", sqlalchemy.MetaData(), autoload_with=connection)
            query = (sqlalchemy.select(table.c.response_id, table.c.output_tokens)
                     .where(table.c.run_id == "sql-run-b"))
            assert [tuple(r) for r in connection.execute(query)] == [("msg_b1", 12)]
    finally:
        engine.dispose()


def _http(server: Serve, method: str = "GET", **kwargs) -> httpx.Response:
    return httpx.request(method, f"{server.sql}/", timeout=60, **kwargs)


def test_plain_http_formats_parameters_and_methods(server):
    expected = _store_rows(server, "sql-run-a")
    query = ("SELECT response_id, output_tokens FROM llm_calls WHERE run_id = {run:String} "
             "ORDER BY timestamp, call_id")
    tsv = "".join(f"{r[0]}\t{r[6]}\n" for r in expected)
    csv = "".join(f'"{r[0]}",{r[6]}\n' for r in expected)
    jsonl = "".join(f'{{"response_id":"{r[0]}","output_tokens":{r[6]}}}\n' for r in expected)
    params = {"param_run": "sql-run-a"}

    get = _http(server, params={"query": query, **params})  # curl 'http://…/?query=…'
    assert (get.status_code, get.text) == (200, tsv)
    assert get.headers["X-ClickHouse-Format"] == "TabSeparated"
    assert get.headers["Content-Type"].startswith("text/tab-separated-values")
    assert get.headers["X-ClickHouse-Query-Id"]
    assert get.headers["X-ClickHouse-Timezone"]
    assert '"read_rows"' in get.headers["X-ClickHouse-Summary"]

    body = _http(server, "POST", params=params, content=query + " FORMAT CSV")
    assert (body.status_code, body.text, body.headers["X-ClickHouse-Format"]) == (200, csv, "CSV")
    split = _http(server, "POST", params={"query": query, **params}, content="FORMAT JSONEachRow")
    assert (split.status_code, split.text) == (200, jsonl)  # query param + "\n" + body
    default = _http(server, params={"query": query, "default_format": "JSONEachRow", **params})
    assert default.text == jsonl
    waited = _http(server, params={"query": query, "wait_end_of_query": "1", **params})
    assert waited.text == tsv
    explicit = _http(server, params={"query": query + " FORMAT TabSeparated", **params})
    assert explicit.text == tsv
    whole = _http(server, params={"query": query + " FORMAT JSON", **params}).json()
    assert [(r["response_id"], r["output_tokens"]) for r in whole["data"]] \
        == [(r[0], r[6]) for r in expected]
    header_db = _http(server, params={"query": "SELECT currentDatabase()"},
                      headers={"X-ClickHouse-Database": "system"})
    assert header_db.text == "system\n"

    long_url = _http(server, params={"query": f"SELECT length('{'x' * 50_000}')"})
    assert long_url.text == "50000\n"  # past h11's 16 KiB: URLs up to 1 MiB, as ClickHouse

    assert _http(server).text == "Ok.\n"  # GET / with no query
    assert httpx.get(f"{server.sql}/ping", timeout=10).text == "Ok.\n"


def test_plain_http_compression(server):
    query = "SELECT number, toString(number) FROM numbers(50000) FORMAT CSV"
    plain = _http(server, params={"query": query})
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    with httpx.Client(timeout=60) as http:  # raw bytes, as curl without --compressed
        for encoding, decompress in [("gzip", gzip.decompress), ("deflate", zlib.decompress)]:
            request = http.build_request(
                "GET", f"{server.sql}/", params={"query": query, "enable_http_compression": "1"},
                headers={"Accept-Encoding": encoding})
            response = http.send(request, stream=True)
            raw = b"".join(response.iter_raw())
            assert response.headers["Content-Encoding"] == encoding
            assert len(raw) < len(plain.content) / 3
            assert decompress(raw) == plain.content
    not_asked = _http(server, params={"query": query}, headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in not_asked.headers  # enable_http_compression is off
    gzipped_body = _http(server, "POST", content=gzip.compress(query.encode()),
                         headers={"Content-Encoding": "gzip"})
    assert gzipped_body.content == plain.content


@pytest.mark.parametrize("sql", [
    "INSERT INTO llm_call_reports SELECT * FROM llm_call_reports LIMIT 1",
    "DROP TABLE otel_traces",
    "SET readonly = 0",
    "SELECT 1 SETTINGS readonly = 0",
    "CREATE TABLE sneaky (a UInt8) ENGINE = Memory",
    "SELECT * FROM file('/etc/passwd', 'LineAsString')",
])
def test_writes_are_refused_by_the_engine(server, sql):
    response = _http(server, "POST", content=sql)
    assert response.status_code == 500, response.text
    assert response.headers["X-ClickHouse-Exception-Code"] == "164"
    match = ERROR_BODY.match(response.text)
    assert match and match.groups() == ("164", "READONLY"), response.text


def test_readonly_url_setting_and_clients_are_refused(server, client):
    response = _http(server, params={"query": "SELECT 1", "readonly": "0"})
    assert response.headers["X-ClickHouse-Exception-Code"] == "164", response.text
    assert "Cannot modify 'readonly' setting in readonly mode" in response.text
    before = client.command("SELECT count() FROM llm_calls WHERE run_id = 'sql-run-a'")
    for command in ("DROP TABLE llm_calls", "INSERT INTO otel_traces SELECT * FROM otel_traces",
                    "SET readonly = 0"):
        with pytest.raises(DatabaseError) as caught:
            client.command(command)
        assert caught.value.code == 164 and "(READONLY)" in str(caught.value)
    assert client.command("SELECT count() FROM llm_calls WHERE run_id = 'sql-run-a'") == before
    with pytest.raises(Exception, match="readonly"):  # the client sees every setting locked
        client.query("SELECT 1", settings={"max_threads": 2})


def test_statements_the_engine_readonly_does_not_cover(server, tmp_path):
    target = tmp_path / "out.tsv"
    outfile = _http(server, "POST", content=f"SELECT 1 INTO OUTFILE '{target}'")
    assert (outfile.status_code, outfile.headers["X-ClickHouse-Exception-Code"]) == (500, "358")
    assert not target.exists()
    kill = _http(server, "POST", content="KILL QUERY WHERE 1")
    assert (kill.status_code, kill.headers["X-ClickHouse-Exception-Code"]) == (403, "497")
    multi = _http(server, "POST", content="SELECT 1; SELECT 2")
    assert (multi.status_code, multi.headers["X-ClickHouse-Exception-Code"]) == (400, "62")


@pytest.mark.parametrize(("params", "status", "code"), [
    ({"query": "SELECT * FROM no_such_table"}, 404, "60"),
    ({"query": "SELEC 1"}, 400, "62"),
    ({"query": "SELECT 1", "no_such_setting": "1"}, 404, "115"),
    ({"query": "SELECT {n:UInt8}"}, 500, "456"),
    ({"query": "SELECT 1", "compress": "1"}, 501, "48"),
    ({"query": "SELECT 1 FORMAT NoSuchFormat"}, 404, "73"),
])
def test_errors_in_clickhouse_shape(server, params, status, code):
    response = _http(server, params=params)
    assert response.status_code == status, response.text
    assert response.headers["X-ClickHouse-Exception-Code"] == code
    match = ERROR_BODY.match(response.text)
    assert match and match.group(1) == code, response.text


def test_error_after_the_body_started_is_tagged(server):
    """An error mid-stream (status 200 already sent) comes in ClickHouse 25.11's tagged
    block, which clickhouse-connect turns into an exception."""
    query = ("SELECT throwIf(number = 300000, 'late failure') FROM numbers(400000) "
             "FORMAT TabSeparated")
    response = _http(server, params={"query": query})
    tag = response.headers["X-ClickHouse-Exception-Tag"]
    assert response.status_code == 200
    assert response.content.endswith(f" {tag}\r\n__exception__\r\n".encode())
    assert b"late failure" in response.content.split(b"__exception__")[1]
    client = clickhouse_connect.get_client(host="127.0.0.1", port=server.sql_port)
    try:
        with (pytest.raises(Exception, match="late failure"),
              client.query_rows_stream(query.removesuffix(" FORMAT TabSeparated")) as rows):
            for _ in rows:
                pass
    finally:
        client.close()
