"""The price file: what is accepted, what is refused with a clear message, how overrides
merge and how rows resolve into dated versions (docs/facts.md §2: prices are data)."""

from __future__ import annotations

from datetime import date

import pytest

from tokentrail.analysis import price_file
from tokentrail.analysis.price_file import PriceFileError
from tokentrail.analysis.pricing_sql import normalize_model_id, normalized_model_sql

HEADER = ",".join(price_file.COLUMNS)
BASE = "claude-x-1,,,0,,3,3.75,6,0.30,15,0.5,,,10,0,unverified,test"


def parse(*lines: str) -> list[price_file.PriceRow]:
    return price_file.parse("\n".join([HEADER, *lines]), origin="t.csv")


def test_the_packaged_file_is_valid_and_every_family_can_match():
    rows = price_file.read_packaged()
    resolved = price_file.resolve(rows)
    families = {r.family for r in resolved}
    assert {"claude-sonnet-4-5", "claude-haiku-5-5", "claude-fable-5-1"} <= families
    for row in rows:
        assert normalize_model_id(row.family) == row.family
        assert row.source


@pytest.mark.parametrize(("line", "message"), [
    ("claude-x-1,,,0,,three,3.75,6,0.30,15,0.5,,,10,0,unverified,test", "input 'three'"),
    ("claude-x-1,,,0,,-1,3.75,6,0.30,15,0.5,,,10,0,unverified,test", ">= 0"),
    ("claude-x-1,,,0,,3,3.75,6,0.30,15,0,,,10,0,unverified,test", "batch_multiplier"),
    ("claude-x-1-20250101,,,0,,3,3.75,6,0.30,15,0.5,,,10,0,unverified,test",
     "'claude-x-1'"),
    ("claude-x-1,,2026-13-01,0,,3,3.75,6,0.30,15,0.5,,,10,0,unverified,test",
     "YYYY-MM-DD"),
    ("claude-x-1,,,0,beta,3,3.75,6,0.30,15,0.5,,,10,0,unverified,test", "tier_beta"),
    ("claude-x-1,,,0,,3,3.75,6,0.30,15,,,,10,0,unverified,test", "required on a base"),
    ("claude-x-1,,,1000,,3,3.75,6,0.30,15,0.5,,,,,unverified,test", "leave it empty"),
    ("claude-x-1,,,0,,3,3.75,6,0.30,15,0.5,,,10,0,guessed,test", "status"),
    ("claude-x-1,,,0,,3,3.75,6,0.30,15,0.5,,,10,0,unverified,", "source"),
    ("claude-x-1,,,0,,3,3.75,6,0.30,15,0.5,,,10,0,unverified", "17 columns"),
])
def test_bad_rows_are_refused_with_file_line_and_column(line, message):
    with pytest.raises(PriceFileError, match=r"t\.csv:2") as error:
        parse(line)
    assert message in str(error.value)


def test_a_bad_header_says_which_columns():
    with pytest.raises(PriceFileError, match="missing source; unknown src"):
        price_file.parse(HEADER.replace("source", "src") + "\n", origin="t.csv")


def test_the_same_key_twice_in_one_file_is_refused():
    with pytest.raises(PriceFileError, match=r"also at t\.csv:2"):
        price_file.merge(parse(BASE, BASE))


def test_an_override_replaces_the_row_of_the_same_family_tier_and_date():
    packaged = parse(BASE, "claude-x-2,,,0,,1,1.25,2,0.10,5,0.5,,,10,0,unverified,test")
    override = price_file.parse(
        HEADER + "\nclaude-x-1,,,0,,4,5,8,0.40,20,0.5,,,10,0,unverified,mine\n",
        origin="mine.csv")
    merged = {r.family: r for r in price_file.merge(packaged, override)}
    assert merged["claude-x-1"].input == 4 and merged["claude-x-1"].origin == "mine.csv:2"
    assert merged["claude-x-2"].input == 1


def test_a_dated_row_starts_a_new_version_and_keeps_the_other_tier():
    rows = parse(
        BASE,
        "claude-x-1,,,1000,,6,7.5,12,0.60,30,,,,,,unverified,tier",
        "claude-x-1,,2026-05-01,0,,2,2.5,4,0.20,10,0.5,,,10,0,unverified,cut",
    )
    resolved = price_file.resolve(rows)
    versions = [(r.effective_from, r.tier, r.input, r.batch_multiplier) for r in resolved]
    assert versions == [
        (price_file.BEGINNING, 0, 3, 0.5), (price_file.BEGINNING, 1, 6, 0.5),
        (date(2026, 5, 1), 0, 2, 0.5), (date(2026, 5, 1), 1, 6, 0.5),
    ]


def test_a_tier_row_needs_a_base_row():
    with pytest.raises(PriceFileError, match="no base-tier row"):
        price_file.resolve(parse("claude-x-1,,,1000,,6,7.5,12,0.60,30,,,,,,unverified,t"))


def test_an_alias_cannot_name_two_families():
    with pytest.raises(PriceFileError, match="names both"):
        price_file.resolve(parse(
            "claude-x-1,claude-y,,0,,3,3.75,6,0.30,15,0.5,,,10,0,unverified,test",
            "claude-x-2,claude-y,,0,,3,3.75,6,0.30,15,0.5,,,10,0,unverified,test"))


IDS = ["claude-sonnet-4-5-20250929", "anthropic.claude-3-5-haiku-20241022-v1:0",
       "apac.anthropic.claude-sonnet-4-20250514-v1:0", "claude-3-5-sonnet-v2@20241022",
       "publishers/anthropic/models/claude-opus-4-1@20250805", "anthropic/claude-3.5-haiku",
       "claude-opus-4-6-v1", "claude-3-7-sonnet-latest", " Claude-Haiku-4-5 ", "gpt-4o", ""]


def test_the_sql_and_python_model_id_rules_agree(store):
    """``normalize_model_id`` checks the price file's families; the SQL twin prices calls."""
    rows = store.query(f"SELECT m, {normalized_model_sql('m')} AS family "
                       "FROM (SELECT arrayJoin({ids:Array(String)}) AS m)", {"ids": IDS})
    assert {r["m"]: r["family"] for r in rows} == {m: normalize_model_id(m) for m in IDS}
    assert normalize_model_id("anthropic.claude-3-5-haiku-20241022-v1:0") == "claude-3-5-haiku"
