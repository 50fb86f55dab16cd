"""The chart geometry of tokentrail.web.svg: ticks, scales, bars, lines (how the numbers
read is tests/web/test_formatting.py's)."""

from __future__ import annotations

import pytest

from tokentrail.web import svg


@pytest.mark.parametrize(("low", "high", "ticks"), [
    (0, 4700, [0, 1000, 2000, 3000, 4000, 5000]),
    (0, 100, [0, 20, 40, 60, 80, 100]),
    (0, 0.0123, [0, 0.0025, 0.005, 0.0075, 0.01, 0.0125]),
    (0, 0, [0, 0.2, 0.4, 0.6, 0.8, 1.0]),
])
def test_nice_ticks_cover_the_range_on_round_values(low, high, ticks):
    assert svg.nice_ticks(low, high) == pytest.approx(ticks)


def test_nice_ticks_always_reach_the_maximum():
    for high in (1, 7, 13, 99, 101, 333, 4_999, 12_345_678, 0.37):
        ticks = svg.nice_ticks(0, high)
        assert ticks[0] == 0 and ticks[-1] >= high, (high, ticks)
        assert 3 <= len(ticks) <= 8, (high, ticks)


@pytest.mark.parametrize(("count", "max_labels", "labels"), [
    (0, 20, []),
    (8, 20, [1, 2, 3, 4, 5, 6, 7, 8]),
    (45, 10, [1, 5, 10, 15, 20, 25, 30, 35, 40, 45]),
    (36, 24, list(range(2, 37, 2))),
    (500, 20, [1, 50, 100, 150, 200, 250, 300, 350, 400, 450, 500]),
])
def test_thinned_labels_are_round_and_few(count, max_labels, labels):
    assert svg.thinned(count, max_labels) == labels


def test_linear_scale_maps_and_inverts_for_y_axes():
    y = svg.LinearScale(0, 100, 300, 20)  # bottom at 300, top at 20
    assert (y(0), y(100), y(50)) == (300, 20, 160)
    assert y.length(50) == 140
    scale, ticks = svg.LinearScale.nice(4700, 300, 20)
    assert ticks[-1] == 5000 and scale(5000) == 20 and scale(0) == 300
    assert svg.LinearScale(5, 5, 10, 0)(5) == 10  # an empty domain does not divide by 0


def test_band_scale_places_bars_inside_their_bands():
    x = svg.BandScale(4, 0, 400, padding=0.5)
    assert x.band == 100 and x.width == 50
    assert [x.start(i) for i in range(4)] == [25, 125, 225, 325]
    assert x.center(1) == 150
    assert (x.index_at(-5), x.index_at(199), x.index_at(401)) == (0, 1, 3)
    assert svg.BandScale(5000, 0, 1000).width == 0.5  # never thinner than a hairline


def test_stacked_bar_stacks_from_the_baseline_and_skips_zeros():
    x = svg.BandScale(2, 0, 200, padding=0)
    y = svg.LinearScale(0, 100, 100, 0)
    segments = svg.stacked_bar([10, 0, 30, 5], x, y, 1)
    assert [s.series for s in segments] == [0, 2, 3]
    first, second, third = segments
    assert (first.x, first.width, first.y, first.height) == (100, 100, 90, 10)
    assert (second.y, second.height) == (60, 30)  # sits on top of the first
    assert (third.y, third.height) == (55, 5)
    assert sum(s.height for s in segments) == y.length(45)
    assert svg.stacked_bar([0, 0], x, y, 0) == []
    tiny = svg.stacked_bar([0.001], x, y, 0, min_height=1)
    assert tiny[0].height == 1


def test_line_path_breaks_at_missing_values():
    assert svg.line_path([(0, 10), (5, 20.5)]) == "M0.00,10.00 L5.00,20.50"
    assert svg.line_path([(0, 1), (1, None), (2, 3), (3, 4)]) == \
        "M0.00,1.00 M2.00,3.00 L3.00,4.00"
    assert svg.line_path([]) == ""


def test_step_points_span_each_band():
    assert svg.step_points([10, 30], [5, None], 4) == [(6, 5), (14, 5), (26, None), (34, None)]
