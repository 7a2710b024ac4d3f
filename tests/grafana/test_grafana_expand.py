"""The macro expander the dashboard integration test relies on does what Grafana does."""

from __future__ import annotations

import pytest

from tests.integration.grafana_expand import Expander, TimeRange, escape_regex, round_interval

MONTH = TimeRange(1_793_487_600_000, 1_796_079_599_999)


def test_time_macros_are_epoch_milliseconds_inclusive_at_both_ends() -> None:
    e = Expander(MONTH)
    assert e.expand("WHERE $timeFilter") == "WHERE time >= 1793487600000ms and time <= 1796079599999ms"
    assert e.expand("$__timeFilter") == e.expand("$timeFilter")
    assert e.expand("time > ${__from}ms AND time <= ${__to}ms + 1ms") == (
        "time > 1793487600000ms AND time <= 1796079599999ms + 1ms")


def test_interval_is_rounded_like_grafana_and_never_below_the_datasource_minimum() -> None:
    assert Expander(MONTH).expand("time($__interval)") == "time(30m)"  # 30 days / 1000 points
    assert Expander(TimeRange(0, 3_600_000)).expand("$__interval") == "10s"  # 3.6 s rounded up to the minimum
    assert Expander(MONTH).expand("$__interval_ms") == "1800000"
    assert round_interval(2_592_000) == "30m"
    assert round_interval(5e10) == "1y"


def test_multi_value_variables_are_escaped_and_joined_as_a_regex_group() -> None:
    e = Expander(MONTH, {"site": ["residence-48", "a.b/c"], "tz": "Europe/Paris"})
    expanded = e.expand('"site" =~ /^$site$/ tz(\'${tz}\')')
    assert expanded == '"site" =~ /^(residence-48|a\\.b\\/c)$/ tz(\'Europe/Paris\')'
    assert Expander(MONTH, {"site": ["x(1)"]}).expand("/^$site$/") == "/^x\\(1\\)$/"
    assert escape_regex("^$*+?.()|[]{}") == "\\^\\$\\*\\+\\?\\.\\(\\)\\|\\[\\]\\{\\}"


def test_an_unknown_variable_is_an_error() -> None:
    with pytest.raises(KeyError, match=r"\$building"):
        Expander(MONTH).expand("WHERE site = '$building'")
