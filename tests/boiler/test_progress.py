"""Demo progress: share done, achieved speed and time left, and how often plain lines are written."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from boiler.service.progress import Progress, ProgressLines, ProgressMeter

T0_S = datetime(2026, 1, 4, 23, 0, tzinfo=UTC).timestamp()  # Monday 5 January, 00:00 in Paris


class Wall:
    def __init__(self) -> None:
        self.s = 100.0

    def __call__(self) -> float:
        return self.s


def test_time_left_follows_the_speed_achieved_not_the_one_asked_for() -> None:
    wall = Wall()
    meter = ProgressMeter(duration_s=86_400.0, wall_clock=wall)
    first = meter.update(T0_S)
    assert (first.fraction, first.speed, first.left_wall_s) == (0.0, None, None)
    wall.s += 60.0  # a quarter of the day ran in a minute: 360× real time
    p = meter.update(T0_S + 21_600.0)
    assert p.fraction == pytest.approx(0.25)
    assert p.speed == pytest.approx(360.0)
    assert p.left_wall_s == pytest.approx(180.0)
    assert p.summary("Europe/Paris") == "Mon 05 Jan 06:00 · 25 % · 3 min 00 s left · 360× real time"
    assert p.fields("Europe/Paris") == "plant_time=2026-01-05T06:00+01:00 done_pct=25 left_s=180 speed=360"


def test_a_run_without_an_end_shows_no_share_or_time_left() -> None:
    wall = Wall()
    meter = ProgressMeter(duration_s=None, wall_clock=wall)
    meter.update(T0_S)
    wall.s += 10.0
    p = meter.update(T0_S + 600.0)
    assert (p.fraction, p.left_wall_s, p.speed) == (None, None, pytest.approx(60.0))
    assert p.done() == "60× real time"


def test_plain_lines_come_every_period_and_at_the_first_and_last_tick() -> None:
    wall = Wall()
    lines: list[Progress] = []
    printer = ProgressLines(ProgressMeter(3600.0, wall_clock=wall), "Europe/Paris", lines.append, every_s=10.0,
                            wall_clock=wall)
    for tick in range(61):  # a tick a minute for an hour, one wall second each
        printer.update(T0_S + 60.0 * tick)
        wall.s += 1.0
    assert [round(p.done_s) for p in lines] == [0, 600, 1200, 1800, 2400, 3000, 3600]
    assert lines[-1].fraction == 1.0


@pytest.mark.parametrize("bad", [0.0, -5.0, float("nan")])
def test_a_meter_needs_a_positive_duration(bad: float) -> None:
    with pytest.raises(ValueError):
        ProgressMeter(bad)


def test_the_live_view_shows_site_time_progress_and_time_left() -> None:
    from rich.console import Console

    from boiler.cli.service_cmd import status_view
    from boiler.service.service import ServiceStatus

    status = ServiceStatus(now_s=T0_S + 21_600.0, ticks=361)
    status.reasons.append((T0_S + 21_600.0, "heat:absorb"))
    wall = Wall()
    meter = ProgressMeter(86_400.0, wall_clock=wall)
    meter.update(T0_S)
    wall.s += 60.0
    console = Console(record=True, width=200)
    console.print(status_view(status, "residence-48", "Europe/Paris", meter.update(status.now_s)))
    text = console.export_text()
    assert "plant time Mon 05 Jan 06:00" in text
    assert "25 % · 3 min 00 s left · 360× real time" in text
    assert any("05 Jan 06:00" in line and "heat:absorb" in line for line in text.splitlines())  # decisions too
