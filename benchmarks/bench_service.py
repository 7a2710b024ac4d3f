"""Benchmark: the plant service's CPU share and memory with 100 emulated miners at a 10 s tick, wall clock.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_service.py [--count 100] [--family whatsminer]
        [--duration 180] [--tick 10] [--first-ip 127.0.110.1] [--json out.json]

Three processes, as on a plant: the miners (`boiler emulate`, a separate process reached through pyasic),
the service (PlantService on the wall clock: poll every miner, decide, command, book the ledger in
SQLite, each tick) and this driver, which only measures. The plant is simulated in the service's process
(its miners follow the limits the controller sends); no MQTT, no telemetry. The tank is scaled to the
fleet (100 × 7 kW heats 100 m³). Reported: the service's CPU in steady state (after the first tick, which
identifies every miner) as a share of one core, its startup CPU, peak RSS, tick times, and the
emulator's CPU. Not a test: the figures go to BENCHMARKS.md with the machine they were measured on.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

from _processes import DEFAULT_MODEL, ROOT, process_cpu_s, start_emulator


# -- the service process --------------------------------------------------------------------------------
def plant_config(ips: list[str], model: str, tick_s: float, state: Path) -> Any:
    from boiler import scenarios
    from miners.config import MinerConfig

    cfg = scenarios.load("residence-48")
    cfg.miners = [MinerConfig(name=f"m{i:03d}", model=model, host=ip) for i, ip in enumerate(ips)]
    cfg.tanks = [cfg.tanks[0].model_copy(update={"volume_l": 100_000.0, "height_m": 6.0})]
    cfg.gas_boiler = cfg.gas_boiler.model_copy(update={"output_kw": 1000.0}) if cfg.gas_boiler else None
    cfg.service = cfg.service.model_copy(update={"tick_s": tick_s, "state_path": state, "miner_timeout_s": 5.0})
    return cfg


async def run_service(ips: list[str], model: str, tick_s: float, duration_s: float) -> dict[str, Any]:
    from boiler.control.plant_model import exchanger_ua_w_per_k
    from boiler.control.types import Commands
    from boiler.service.clock import WallClock
    from boiler.service.service import PlantService, ServiceStatus
    from boiler.simulation import build_plant
    from boiler.simulation.plant_io import SimulatedPlantIO
    from boiler.store import PlantStore
    from miners.fleet import PyasicFleet

    class FollowingPlantIO(SimulatedPlantIO):
        """The simulated plant, whose own miner models follow the limits sent to the emulated miners."""

        async def act(self, commands: Commands) -> None:
            self.plant.apply(commands, miners=True)

    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp:
        cfg = plant_config(ips, model, tick_s, Path(tmp) / "state.sqlite")
        clock = WallClock()
        now = clock.now_s()
        today = datetime.fromtimestamp(now).date()
        plant = build_plant(cfg, today, 2.0 + duration_s / 86_400)
        while plant.now_s + plant.step_s <= now:  # the tank was there before the service started
            plant.step()
        driver = PyasicFleet(cfg.miners, timeout_s=cfg.service.miner_timeout_s, clock=clock.now_s)
        ticks: list[dict[str, float]] = []

        def on_status(s: ServiceStatus) -> None:
            ticks.append({"wall_s": s.tick_wall_s, "cpu_s": time.process_time(), "at_s": time.perf_counter(),
                          "available": sum(m.available for m in s.miners)})

        startup_cpu_s = time.process_time()
        with PlantStore(cfg.service.state_path) as store:
            service = PlantService(cfg, FollowingPlantIO(plant), driver, store, clock,
                                   exchanger_ua_w_per_k=exchanger_ua_w_per_k(cfg), on_status=on_status)
            await service.run(asyncio.Event(), duration_s=duration_s)
            rows = len(store.ledger_rows())
    first, last = ticks[0], ticks[-1]
    steady_wall_s = last["at_s"] - first["at_s"]
    steady_cpu_s = last["cpu_s"] - first["cpu_s"]
    walls = [t["wall_s"] for t in ticks[1:]] or [first["wall_s"]]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "ticks": len(ticks), "limit_changes": service.controller.limit_changes, "ledger_rows": rows,
        "startup_cpu_s": startup_cpu_s, "first_tick_s": first["wall_s"],
        "steady_wall_s": steady_wall_s, "steady_cpu_s": steady_cpu_s,
        "steady_cpu_share_of_one_core": steady_cpu_s / steady_wall_s if steady_wall_s > 0 else float("nan"),
        "tick_wall_mean_s": statistics.fmean(walls), "tick_wall_max_s": max(walls),
        "available_last_tick": last["available"], "max_rss_mib": usage.ru_maxrss / 1024,
        "total_cpu_s": usage.ru_utime + usage.ru_stime,
    }


def child_main(spec: str) -> None:
    args = json.loads(spec)
    warnings.simplefilter("ignore")
    import pyasic  # noqa: F401  (configures the root logger on import; quiet it after)

    logging.basicConfig(level=logging.ERROR, force=True)
    result = asyncio.run(run_service(args["ips"], args["model"], args["tick_s"], args["duration_s"]))
    print(json.dumps(result), flush=True)


# -- the measuring process ------------------------------------------------------------------------------
def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child_main(sys.argv[2])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--family", choices=sorted(DEFAULT_MODEL), default="whatsminer")
    ap.add_argument("--duration", type=float, default=180.0, help="Seconds the service runs (wall clock).")
    ap.add_argument("--tick", type=float, default=10.0)
    ap.add_argument("--first-ip", default="127.0.110.1")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    model = DEFAULT_MODEL[args.family]
    machine = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
               f"Python {platform.python_version()}")
    print(f"machine: {machine}; {args.count} × {model} ({args.family}), tick {args.tick:g} s, "
          f"{args.duration:g} s on the wall clock")
    emulator, ips = start_emulator(args.count, args.family, args.first_ip)
    try:
        emu_cpu0, t0 = process_cpu_s(emulator.pid), time.perf_counter()
        spec = json.dumps({"ips": ips, "model": model, "tick_s": args.tick, "duration_s": args.duration})
        child = subprocess.Popen([sys.executable, __file__, "--child", spec], cwd=ROOT, stdout=subprocess.PIPE,
                                 env={**os.environ, "PYTHONPATH": str(ROOT)}, text=True)
        assert child.stdout is not None
        out = child.stdout.read()
        _pid, status, usage = os.wait4(child.pid, 0)
        wall_s = time.perf_counter() - t0
        emu_cpu_s = process_cpu_s(emulator.pid) - emu_cpu0
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
    if status != 0 or not out.strip():
        raise SystemExit(f"the service process failed (status {status})")
    r = json.loads(out.strip().splitlines()[-1])
    r.update(machine=machine, count=args.count, model=model, tick_s=args.tick, duration_s=args.duration,
             process_cpu_s=usage.ru_utime + usage.ru_stime, process_max_rss_mib=usage.ru_maxrss / 1024,
             process_wall_s=wall_s, emulator_cpu_share_of_one_core=emu_cpu_s / wall_s)
    print(f"service, steady state: {100 * r['steady_cpu_share_of_one_core']:.1f} % of one core "
          f"({r['steady_cpu_s']:.1f} s CPU over {r['steady_wall_s']:.0f} s; "
          f"{100 * r['steady_cpu_share_of_one_core'] / (os.cpu_count() or 1):.1f} % of the machine)")
    print(f"service, startup: {r['startup_cpu_s']:.1f} s CPU (imports), first tick {r['first_tick_s']:.2f} s "
          f"(identifies {args.count} miners); whole process {r['process_cpu_s']:.1f} s CPU over {wall_s:.0f} s")
    print(f"service, memory: peak RSS {r['process_max_rss_mib']:.0f} MiB")
    print(f"ticks {r['ticks']}: mean {1000 * r['tick_wall_mean_s']:.0f} ms, "
          f"slowest {1000 * r['tick_wall_max_s']:.0f} ms; "
          f"{r['available_last_tick']}/{args.count} miners available at the last tick; "
          f"{r['limit_changes']} limit changes; {r['ledger_rows']} ledger rows")
    print(f"emulator process: {100 * r['emulator_cpu_share_of_one_core']:.1f} % of one core")
    if args.json is not None:
        args.json.write_text(json.dumps(r, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
