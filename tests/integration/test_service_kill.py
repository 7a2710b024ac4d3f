"""Crash safety: the service killed with SIGKILL at random points 20 times, restarted on the same state file.

The child process is the real service (PlantService, SQLite store, emulated miners reached through pyasic,
the simulated plant in process) on a paced virtual clock that resumes where the last committed tick left
off, as the wall clock does for `boiler run`. After every kill the ledger must be intact: rows well formed,
each interval once, every row committed before still there unchanged, time ordered and contiguous.

"Nothing counted twice" is checked against an analytic oracle: the plant's hash meter reads a constant
100 TH/s, so every closed row must average exactly 100 TH/s. A tick booked twice after a restart pushes a
row above 100, a tick lost pulls it below.
"""

from __future__ import annotations

import json
import math
import os
import random
import secrets
import select
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path

import pytest

from boiler import scenarios
from boiler.ledger import LedgerRow
from miners.catalogue import get_spec
from tests import loopback

KILLS = 20
TICK_S = 240.0  # a multiple of the physics step (120 s): plant flows line up with the rows
LEDGER_INTERVAL_S = 720.0  # a row every 3 ticks: many commits carry a closed row
SPEED = 24_000.0  # 10 ms of wall time per tick; the tick's own work (two pyasic polls) takes longer
HASH_METER_THS = 100.0

CHILD = r"""
import asyncio, dataclasses, sys
from datetime import date
from pathlib import Path

import pytest

from boiler import scenarios
from boiler.hil import driver_configs, emulated_fleet, live_physics
from boiler.service.clock import PacedClock
from boiler.loop import FlowSample
from boiler.ledger import EnergyFlows
from boiler.service.service import PlantService
from boiler.simulation import build_plant, local_midnight_s
from boiler.simulation.plant_io import SimulatedPlantIO
from boiler.store import PlantStore
from miners.fleet import PyasicFleet

state, first_ip, tick_s, interval_s, speed, meter_ths = sys.argv[1:7]
tick_s, interval_s, speed, meter_ths = float(tick_s), float(interval_s), float(speed), float(meter_ths)


class MeteredIO(SimulatedPlantIO):
    # The simulated plant, plus a hash meter reading a constant rate since its previous reading.
    def __init__(self, plant, on_read, since_s):
        super().__init__(plant, on_read)
        self.since_s = since_s

    async def read(self, now_s):
        reading = await super().read(now_s)
        samples = list(reading.samples)
        for sample in samples:  # the meter, not the plant's own hashrate, is what gets booked
            sample.flows.hash_ths_s = 0.0
        if not samples:
            samples.append(FlowSample(end_s=now_s, flows=EnergyFlows(), store_min_c={}, dt_s=0.0))
        samples[-1].flows.hash_ths_s = meter_ths * (now_s - self.since_s)
        self.since_s = now_s
        return dataclasses.replace(reading, samples=tuple(samples), hashrate_metered=True)


async def main():
    cfg = scenarios.load("residence-48")
    cfg.service.tick_s, cfg.service.ledger_interval_s, cfg.service.state_path = tick_s, interval_s, Path(state)
    day = date(2026, 1, 5)
    with PlantStore(Path(state)) as store:
        resume_s = store.state("last_tick_s")
        now_s = resume_s if resume_s is not None else local_midnight_s(cfg, day)
        clock = PacedClock(now_s, speed)
        fleet = emulated_fleet(cfg, first_ip, clock)
        plant = build_plant(cfg, day, 30.0, 1, live_physics(cfg, fleet))
        while plant.now_s + plant.step_s <= now_s + 1e-6:  # the tank was there all along; nothing to book
            plant.step()
        async with fleet:
            driver = PyasicFleet(driver_configs(cfg, fleet), timeout_s=5.0, clock=clock)
            io = MeteredIO(plant, lambda r: fleet.set_coolant_inlet(plant.coolant.inlet_c), now_s)
            # One line per committed tick: the test kills after a number of these, not after a delay.
            service = PlantService(cfg, io, driver, store, clock, exchanger_ua_w_per_k=plant.exchanger.ua_w_per_k,
                                   on_status=lambda s: print("tick", s.ticks, flush=True))
            print("running", now_s, flush=True)
            await service.run(asyncio.Event())


asyncio.run(main())
"""

ROW_FIELDS = {f.name for f in fields(LedgerRow)}


def ledger(path: Path) -> dict[float, tuple[float, str]]:
    """start_s -> (end_s, the row's stored text), read after the writer is dead (WAL recovered on open)."""
    with sqlite3.connect(path) as db:
        return {start: (end, text) for start, end, text in db.execute("SELECT start_s, end_s, row FROM ledger")}


def last_tick(path: Path) -> float | None:
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT value FROM state WHERE key = 'last_tick_s'").fetchone()
    return None if row is None else json.loads(row[0])


def start_child(state: Path, first_ip: str, log: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(state), first_ip, str(TICK_S), str(LEDGER_INTERVAL_S), str(SPEED),
         str(HASH_METER_THS)],
        stdout=subprocess.PIPE, stderr=log.open("a"), text=True, cwd=Path(__file__).parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})


def wait_running(child: subprocess.Popen[str], log: Path, timeout_s: float = 60.0) -> None:
    assert child.stdout is not None
    ready, _, _ = select.select([child.stdout], [], [], timeout_s)
    line = child.stdout.readline() if ready else ""
    assert line.startswith("running"), f"child did not start: {line!r}\n{log.read_text()[-3000:]}"


def wait_ticks(child: subprocess.Popen[str], log: Path, ticks: int, timeout_s: float = 120.0) -> None:
    """Return once the child has committed `ticks` ticks (it prints a line after each)."""
    assert child.stdout is not None
    seen = 0
    deadline = time.monotonic() + timeout_s
    while seen < ticks:
        ready, _, _ = select.select([child.stdout], [], [], max(0.0, deadline - time.monotonic()))
        line = child.stdout.readline() if ready else ""
        assert line.startswith("tick"), f"child stopped ticking after {seen}: {line!r}\n{log.read_text()[-3000:]}"
        seen += 1


def check_rows(rows: dict[float, tuple[float, str]], fleet_max_w: float) -> None:
    starts = sorted(rows)
    for i, start in enumerate(starts):
        end, text = rows[start]
        data = json.loads(text)
        assert set(data) == ROW_FIELDS, f"row {start}: fields {sorted(set(data) ^ ROW_FIELDS)}"
        assert all(isinstance(v, int | float) and math.isfinite(v) for v in data.values()), data
        assert data["start_s"] == start and data["end_s"] == end
        assert end - start == LEDGER_INTERVAL_S, f"row {start} lasts {end - start} s"
        if i + 1 < len(starts):
            assert starts[i + 1] == end, f"gap or overlap after row {start}"
        # the constant hash meter: exactly the interval's time, booked once
        assert data["hashrate_ths_mean"] == pytest.approx(HASH_METER_THS, rel=1e-9), f"row {start}: {data}"
        assert data["electricity_kwh"] <= fleet_max_w * (end - start) / 3.6e6 * 1.0001
        assert min(data["electricity_kwh"], data["dhw_volume_l"], data["heat_from_gas_kwh"]) >= 0


@pytest.mark.slow  # twenty kills and restarts
def test_sigkill_at_random_points_never_loses_or_doubles_a_ledger_row(tmp_path: Path) -> None:
    seed = secrets.randbits(32)
    rng = random.Random(seed)
    state = tmp_path / "state.sqlite"
    log = tmp_path / "child.log"
    first_ip = loopback.first_ip()
    cfg = scenarios.load("residence-48")
    fleet_max_w = sum(get_spec(m.model).max_power_w for m in cfg.miners)
    committed: dict[float, tuple[float, str]] = {}
    progress = []
    ticks_waited = 0  # ticks the runs were seen to commit, summed
    for kill in range(KILLS):
        child = start_child(state, first_ip, log)
        try:
            wait_running(child, log)
            n = rng.randint(3, 8)
            wait_ticks(child, log, n)
            ticks_waited += n
            # Somewhere in the next tick: during its reads, its commit or its sleep.
            time.sleep(rng.uniform(0.0, 0.02))
            assert child.poll() is None, f"child ended by itself (seed {seed}):\n{log.read_text()[-3000:]}"
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(10)
            if child.stdout is not None:
                child.stdout.close()
        rows = ledger(state)
        lost = {s: committed[s] for s in committed if rows.get(s) != committed[s]}
        assert not lost, f"kill {kill} (seed {seed}): committed rows changed or vanished: {sorted(lost)}"
        check_rows(rows, fleet_max_w)
        committed = rows
        progress.append(last_tick(state))
    # the runs made progress, and the resumed clock never went back
    ticks = [t for t in progress if t is not None]
    assert ticks == sorted(ticks) and len(set(ticks)) >= KILLS // 2, (seed, progress)
    # Every tick a run was seen to commit is in the ledger: the rows closed cover at least those. A run's
    # first tick repeats the plant time of the last one committed (the clock resumes there): no progress.
    per_row = round(LEDGER_INTERVAL_S / TICK_S)
    assert len(committed) >= (ticks_waited - KILLS) // per_row - 1, (
        f"only {len(committed)} rows for {ticks_waited} committed ticks over {KILLS} runs (seed {seed})")
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
