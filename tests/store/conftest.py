"""The store tests run on both DSNs tokentrail takes (issue 17): ``chdb://DIR``
(clickhouse-connect's in-process chDB backend) and ``http://user:token@host:port/db``
(clickhouse-connect's HTTP client, the path a ClickHouse server gets).

No ClickHouse server can be installed here, so the HTTP side talks to the nearest real
thing: a live ``tokentrail serve --no-ui --no-collector`` whose SQL interface (ClickHouse's
HTTP interface of the embedded store, writable mode) answers it. Each test gets a
database of its own there, created empty, so tests see no one else's rows; the store
opens it through the DSN's path as it would a server's database.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.processes import Process, store_host
from tokentrail.store import Store

_databases = itertools.count(1)


@pytest.fixture(scope="session")
def sql_store_host(tmp_path_factory) -> Iterator[Process]:
    host = store_host(tmp_path_factory.mktemp("sql-store-host") / "data")
    try:
        yield host
    finally:
        host.stop_if_running()


@pytest.fixture(params=["chdb", "http"])
def store(request, tmp_path: Path) -> Iterator[Store]:
    if request.param == "chdb":
        s = Store.open(f"chdb://{tmp_path / 'data'}")
    else:
        host = request.getfixturevalue("sql_store_host")
        database = f"store_test_{next(_databases)}"
        admin = Store.open(host.dsn, migrate=False)
        try:
            admin.client.command(f"CREATE DATABASE {database}")
        finally:
            admin.close()
        s = Store.open(f"{host.dsn}/{database}")
    try:
        yield s
    finally:
        s.close()
