"""ClickHouse's HTTP interface, the request and error side (no server): what the SQL
interface reads from a request, and the error shapes clients parse."""

from __future__ import annotations

import base64

import pytest
from clickhouse_connect.driver.transform import extract_exception_with_tag

from tokentrail.sql_http import encoding, protocol
from tokentrail.sql_http.protocol import ClickHouseError, parse_request
from tokentrail.store import Store


def test_query_is_the_parameter_a_newline_and_the_body():
    assert parse_request("POST", {}, [("query", "SELECT")], b"1").query == b"SELECT\n1"
    assert parse_request("POST", {}, [], b"SELECT 1").query == b"SELECT 1"
    assert parse_request("GET", {}, [("query", "SELECT 1")], b"").query == b"SELECT 1\n"


def test_parameters_settings_and_transport_params_are_told_apart():
    request = parse_request("GET", {"x-clickhouse-database": "system"}, [
        ("query", "SELECT {n:UInt8}"), ("param_n", "5"), ("database", "default"),
        ("default_format", "JSON"), ("max_threads", "2"), ("query_id", "q1"),
        ("session_id", "s1"), ("wait_end_of_query", "1"), ("enable_http_compression", "1"),
        ("send_progress_in_http_headers", "1"), ("user", "u"), ("password", "p"), ("", "x"),
    ], b"")
    assert request.params == {"n": "5"}
    assert request.settings == {"max_threads": "2"}
    assert request.database == "system"  # the header wins, as in HTTPHandler
    assert (request.default_format, request.query_id, request.session_id) == ("JSON", "q1", "s1")
    assert request.wait_end_of_query and request.http_compression
    assert (request.credentials.user, request.credentials.password) == ("u", "p")


def test_multipart_form_fields():
    body = (b"--b\r\nContent-Disposition: form-data; name=\"query\"\r\n\r\nSELECT {a:String}\r\n"
            b"--b\r\nContent-Disposition: form-data; name=\"param_a\"\r\n\r\nx'y\r\n--b--\r\n")
    request = parse_request("POST", {"content-type": "multipart/form-data; boundary=b"}, [], body)
    assert (request.query, request.params) == (b"SELECT {a:String}", {"a": "x'y"})
    file_part = body.replace(b'name="param_a"', b'name="t"; filename="t.tsv"')
    with pytest.raises(ClickHouseError) as caught:
        parse_request("POST", {"content-type": "multipart/form-data; boundary=b"}, [], file_part)
    assert caught.value.code == protocol.NOT_IMPLEMENTED


@pytest.mark.parametrize(("headers", "params", "expected"), [
    ({"authorization": "Basic " + base64.b64encode(b"ann:pw").decode()}, {}, ("ann", "pw")),
    ({"x-clickhouse-user": "bob", "x-clickhouse-key": "k"}, {}, ("bob", "k")),
    ({"authorization": "Bearer tok"}, {}, ("default", "tok")),
    ({}, {"password": "p"}, ("default", "p")),
    ({}, {}, ("default", "")),
])
def test_credentials(headers, params, expected):
    got = protocol.credentials(headers, params)
    assert (got.user, got.password) == expected


@pytest.mark.parametrize(("headers", "params"), [
    ({"x-clickhouse-key": "k", "authorization": "Bearer t"}, {}),
    ({"authorization": "Bearer t"}, {"password": "p"}),
    ({"authorization": "Digest x"}, {}),
])
def test_mixed_or_unknown_authentication_is_refused(headers, params):
    with pytest.raises(ClickHouseError) as caught:
        protocol.credentials(headers, params)
    assert (caught.value.code, caught.value.status) == (protocol.AUTHENTICATION_FAILED, 403)


@pytest.mark.parametrize(("canonical", "fmt"), [
    ("SELECT 1 FORMAT JSON", "JSON"),
    ("SELECT 1 FORMAT JSON SETTINGS max_threads = 1", "JSON"),
    ("SELECT 1 SETTINGS max_threads = 1 FORMAT CSV", "CSV"),
    ("SELECT 1 FORMAT `Null`", "Null"),
    ("SELECT 'FORMAT JSON'", None),
    ("SELECT 1", None),
])
def test_format_clause_of_the_engines_canonical_query(canonical, fmt):
    assert protocol.format_clause(canonical) == fmt


def test_engine_errors_are_cut_after_their_name():
    nested = ("Code: 73. DB::Exception: Unknown format Bogus. (UNKNOWN_FORMAT) (version 26.9.2.1)"
              ". (UNKNOWN_FORMAT) (version 26.9.2.1). (UNKNOWN_FORMAT)")
    error = ClickHouseError.from_engine(73, nested, {73: "UNKNOWN_FORMAT"})
    assert error.body("26.9.2.1") == (b"Code: 73. DB::Exception: Unknown format Bogus. "
                                      b"(UNKNOWN_FORMAT) (version 26.9.2.1)\n")
    assert error.status == 404


def test_tagged_exception_is_what_clickhouse_connect_extracts():
    tag = protocol.exception_tag()
    assert len(tag) == 16 and tag.isalnum() and tag.lower() == tag
    text = "Code: 395. DB::Exception: late failure. (FUNCTION_THROW_IF_VALUE_IS_NON_ZERO)"
    block = b"1\n2\n" + protocol.tagged_exception(tag, text + "\n")
    assert extract_exception_with_tag(block, tag) == text


def test_own_error_codes_are_the_engines(tmp_path):
    store = Store.open(f"chdb://{tmp_path / 'data'}", migrate=False)
    try:
        names = store.engine_info().error_names
    finally:
        store.close()
    for code, name in protocol.OWN_ERROR_NAMES.items():
        assert names[code] == name


def test_response_encoding_follows_clickhouses_preference():
    assert encoding.choose("gzip, deflate, zstd") == "zstd"
    assert encoding.choose("gzip;q=1.0, deflate") == "gzip"
    assert encoding.choose("br") is None
