"""Plant time in the site's zone and durations as people write them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from boiler.timefmt import clock_span, human_duration, plant_time, plant_time_iso


def _utc_s(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def test_a_monday_start_reads_monday_in_the_sites_zone_whatever_the_machines() -> None:
    # Local midnight of Monday 5 January in Paris is 23:00 UTC on Sunday.
    midnight_s = _utc_s(2026, 1, 4, 23, 0)
    assert plant_time(midnight_s, "Europe/Paris") == "Mon 05 Jan 00:00"
    assert plant_time(midnight_s, "UTC") == "Sun 04 Jan 23:00"
    assert plant_time_iso(midnight_s, "Europe/Paris") == "2026-01-05T00:00+01:00"
    assert plant_time(_utc_s(2026, 7, 6, 4, 30), "Europe/Paris") == "Mon 06 Jul 06:30"  # summer time


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (86_400, "1 day"), (2 * 86_400, "2 days"), (365 * 86_400, "365 days"), (36 * 3600, "36 h"),
        (3600, "1 h"), (0.0416667 * 86_400, "1 h"), (5400, "90 min"), (2.5 * 3600, "2.5 h"), (45, "45 s"),
        (0, "0 s"), (4 * 86_400 + 3 * 3600, "4.1 days"), (150, "2.5 min"),
    ],
)  # fmt: skip
def test_durations_read_as_people_write_them(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_a_duration_that_is_not_one_is_refused(bad: float) -> None:
    with pytest.raises(ValueError):
        human_duration(bad)


def test_countdowns() -> None:
    assert [clock_span(s) for s in (0, 42.4, 185, 3900, -3)] == ["0 s", "42 s", "3 min 05 s", "1 h 05 min", "0 s"]
    assert clock_span(float("inf")) == "—"
