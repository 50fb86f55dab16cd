"""How numbers, money, ratios and durations read (tokentrail.web.formatting): the one set
of formatters the templates and the chart code share."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tokentrail.web import formatting

TEMPLATES = Path(formatting.__file__).parent / "templates"


@pytest.mark.parametrize(("value", "text"), [
    (None, "-"), (0, "0"), (950, "950"), (999, "999"), (1000, "1k"), (1500, "1.5k"),
    (12_345, "12.3k"), (999_950, "1M"), (4_000_000, "4M"), (2_500_000_000, "2.5B"),
    (0.5, "0.50"), (-12_345, "-12.3k"),
])
def test_compact_numbers(value, text):
    assert formatting.compact(value) == text


@pytest.mark.parametrize(("value", "text"), [
    (None, "unpriced"), (float("nan"), "unpriced"), (0, "$0"), (12.345, "$12.35"),
    (1234.5, "$1,234"), (0.5, "$0.50"),
    (0.0123, "$0.0123"), (0.000042, "$0.000042"), (-0.02, "-$0.02"), (0.999, "$1.00"),
])
def test_usd_keeps_the_precision_a_call_needs(value, text):
    assert formatting.usd(value) == text


@pytest.mark.parametrize(("value", "step", "text"), [
    (0, 0.05, "$0"), (0.05, 0.05, "$0.05"), (0.1, 0.05, "$0.10"), (2, 0.5, "$2.00"),
    (0.0075, 0.0025, "$0.0075"), (20, 10, "$20"), (2000, 1000, "$2,000"),
    (7.5, 2.5, "$7.50"), (10, 2.5, "$10.00"),
])
def test_cost_axis_labels(value, step, text):
    assert formatting.usd_tick(value, step) == text


def test_usd_says_what_a_missing_price_is_called_where_it_is_shown():
    """Tables say 'unpriced'; cards that explain the missing price beside it say '-'."""
    assert (formatting.usd(None, "-"), formatting.usd(0.5, "-")) == ("-", "$0.50")


@pytest.mark.parametrize(("value", "digits", "text"), [
    (0.873, 1, "87.3%"), (1.0, 1, "100%"), (None, 1, "-"), (0.8734, 0, "87%"),
    (0.005, 0, "0%"), (0.1234, 2, "12.34%"), (float("nan"), 1, "-"),
])
def test_percent(value, digits, text):
    assert formatting.percent(value, digits) == text


def test_counts_have_thousands_separators():
    assert (formatting.count(1234567), formatting.count(0), formatting.count(None)) == (
        "1,234,567", "0", "-")


def test_the_templates_get_every_formatter_as_a_filter():
    """One set of formatters: the chart code and the templates call the same ones."""
    from jinja2 import Environment

    env = Environment(autoescape=True)
    formatting.register(env)
    for name in ("compact", "usd", "percent", "count", "duration"):
        assert env.filters[name] is getattr(formatting, name)
    out = env.from_string("{{ 12345 | compact }} {{ none | usd }} {{ none | usd('-') }} "
                          "{{ 0.873 | percent }} {{ 0.873 | percent(0) }}").render()
    assert out == "12.3k unpriced - 87.3% 87%"


@pytest.mark.parametrize(("seconds", "text"), [
    (None, "-"), (0.85, "850 ms"), (4.2, "4.2 s"), (12, "12 s"), (125, "2m 05s"),
    (3720, "1h 02m"), (-4.2, "-4.2 s"),
])
def test_durations(seconds, text):
    assert formatting.duration(seconds) == text


@pytest.mark.parametrize(("value", "args", "kwargs", "text"), [
    (1, ("turn",), {}, "1 turn"), (3, ("turn",), {}, "3 turns"), (0, ("call",), {}, "0 calls"),
    (1234, ("token",), {}, "1,234 tokens"), (1, ("token",), {"short": True}, "1 token"),
    (12_345, ("token",), {"short": True}, "12.3k tokens"), (1.0, ("event",), {}, "1 event"),
    (1, ("search", "searches"), {}, "1 search"), (2, ("search", "searches"), {}, "2 searches"),
    (None, ("turn",), {}, "- turns"),
])
def test_a_count_of_one_takes_the_singular(value, args, kwargs, text):
    assert formatting.counted(value, *args, **kwargs) == text


# A number printed straight before a plural noun ("{{ n }} turns", "{{ n | count }}
# calls") reads "1 turns" when n is 1; templates say counts with the `counted` filter.
_PLURAL_AFTER_A_NUMBER = re.compile(
    r"\}\}\s*(?:[a-z]+ )?(tokens|turns|calls|runs|events|messages|blocks|searches|days|"
    r"breakpoints|findings|services|models|sub-runs)\b")


def test_templates_say_counts_with_the_counted_filter():
    found = [f"{path.name}: {m.group(0)!r}" for path in sorted(TEMPLATES.glob("*.html"))
             for m in _PLURAL_AFTER_A_NUMBER.finditer(path.read_text())]
    assert found == []


def test_the_counted_filter_renders_singular_and_plural():
    from jinja2 import Environment

    env = Environment(autoescape=True)
    formatting.register(env)
    page = env.from_string("{{ 1 | counted('turn') }}; {{ 2 | counted('turn') }}; "
                           "{{ 1000 | counted('token', short=True) }}")
    assert page.render() == "1 turn; 2 turns; 1k tokens"
