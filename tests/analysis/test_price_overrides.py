"""A user's prices take effect without a reinstall: a ``prices.csv`` in the data
directory, or the file named by ``TOKENTRAIL_PRICES``, is applied the next time the
store is opened (``tokentrail serve`` starts, ``tokentrail prices`` runs), to calls
already stored as well as new ones."""

from __future__ import annotations

import pytest

from tests.analysis.conftest import call, collector
from tokentrail.analysis import price_file
from tokentrail.store import Store, StoreError

HEADER = ",".join(price_file.COLUMNS)
CHEAPER_SONNET = "claude-sonnet-4-5,,,0,,1,1.25,2,0.10,5,0.5,,,10,0,unverified,our contract"
NEW_FAMILY = "claude-inhouse-1,claude-inhouse,,0,,7,8,9,0.7,70,0.5,,,10,0,unverified,ours"


def _ingest(dsn: str) -> None:
    store = Store.open(dsn)
    try:
        with collector(store) as otlp:
            otlp.call("msg_sonnet", model="claude-sonnet-4-5-20250929", uncached=1000,
                      output=100)
            otlp.call("msg_inhouse", model="claude-inhouse-1-20270101", uncached=1000,
                      output=100)
    finally:
        store.close()


def _costs(dsn: str) -> dict[str, float | None]:
    store = Store.open(dsn)
    try:
        return {key: call(store, key)["cost_usd"] for key in ("msg_sonnet", "msg_inhouse")}
    finally:
        store.close()


def test_a_price_file_in_the_data_dir_applies_at_the_next_open(tmp_path):
    data = tmp_path / "data"
    dsn = f"chdb://{data}"
    _ingest(dsn)
    assert _costs(dsn) == {"msg_sonnet": pytest.approx((1000 * 3 + 100 * 15) / 1e6),
                           "msg_inhouse": None}

    (data / "prices.csv").write_text(f"{HEADER}\n{CHEAPER_SONNET}\n{NEW_FAMILY}\n")
    assert _costs(dsn) == {"msg_sonnet": pytest.approx((1000 * 1 + 100 * 5) / 1e6),
                           "msg_inhouse": pytest.approx((1000 * 7 + 100 * 70) / 1e6)}

    (data / "prices.csv").unlink()  # back to the packaged prices
    assert _costs(dsn)["msg_sonnet"] == pytest.approx((1000 * 3 + 100 * 15) / 1e6)


def test_tokentrail_prices_names_a_file_anywhere(tmp_path, monkeypatch):
    dsn = f"chdb://{tmp_path / 'data'}"
    _ingest(dsn)
    mine = tmp_path / "my-prices.csv"
    mine.write_text(f"# our negotiated rates\n{HEADER}\n{CHEAPER_SONNET}\n")
    monkeypatch.setenv("TOKENTRAIL_PRICES", str(mine))
    assert _costs(dsn)["msg_sonnet"] == pytest.approx((1000 * 1 + 100 * 5) / 1e6)


def test_a_dated_override_changes_only_later_calls(tmp_path):
    data = tmp_path / "data"
    dsn = f"chdb://{data}"
    _ingest(dsn)  # the calls are dated 2026-11-24
    later = CHEAPER_SONNET.replace(",,,0,", ",,2026-12-01,0,")
    (data / "prices.csv").write_text(f"{HEADER}\n{later}\n")
    assert _costs(dsn)["msg_sonnet"] == pytest.approx((1000 * 3 + 100 * 15) / 1e6)
    earlier = CHEAPER_SONNET.replace(",,,0,", ",,2026-11-01,0,")
    (data / "prices.csv").write_text(f"{HEADER}\n{earlier}\n")
    assert _costs(dsn)["msg_sonnet"] == pytest.approx((1000 * 1 + 100 * 5) / 1e6)


def test_a_bad_price_file_stops_the_open_with_where_and_why(tmp_path, monkeypatch):
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{HEADER}\n{CHEAPER_SONNET.replace(',1,1.25,', ',one,1.25,')}\n")
    monkeypatch.setenv("TOKENTRAIL_PRICES", str(bad))
    with pytest.raises(StoreError, match=r"bad\.csv:2: input 'one': not a number"):
        Store.open(f"chdb://{tmp_path / 'data'}")
    monkeypatch.setenv("TOKENTRAIL_PRICES", str(tmp_path / "missing.csv"))
    with pytest.raises(StoreError, match="no such price file"):
        Store.open(f"chdb://{tmp_path / 'data'}")
