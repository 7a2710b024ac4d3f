"""Benchmark: the safety layer's coolant cut on residence-48-hot's summer week, before and after it left the
firmware's throttle band to the firmware.

    .venv/bin/python benchmarks/hot_summer_coolant_cut.py

With a controlled charging flow the pump returns the water at its target, so the miners' coolant inlet sits
in their firmware's throttle band (AH3880: 56-60 °C) by design. The safety layer used to curtail the fleet by
half once the inlet passed 1 K below the miners' rated maximum (reason `coolant_hot`), on every plant: a
forced limit change that also spends the day's change budget, so the miners ended up asleep while the store
cooled. Now, where miners finish the water, it curtails only a fleet drawing more than its firmware's
throttle allows (`SafetyLayer._firmware_throttles`). This runs the simplest setting someone would try, the
whole fleet (17.4 kW) at a 62 °C charging target with the burner's aquastat at 62/60/58 °C, and the
controllers (`rule`, `mpc`), with the cut as it was ("before"), as it is ("now") and taken out ("none"; the
firmware still throttles, and stops a miner above 60 °C). Seed 1, summer week from 6 July 2026; ~10 s.
Not a test: the figures go to docs/control.md §3 with this command.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

from boiler import scenarios  # noqa: E402
from boiler.simulation import local_midnight_s  # noqa: E402
from boiler.simulation.runner import Simulation, run_loop  # noqa: E402
from boiler.simulation.search import Schedule, ScheduleStrategy  # noqa: E402

SCENARIO = "residence-48-hot"
SUMMER = date(2026, 7, 6)


def week(strategy: str | ScheduleStrategy, cut: str) -> dict[str, float]:
    sim = Simulation(scenarios.load(SCENARIO), 7, SUMMER, scenario=SCENARIO, seed=1, trace_points=50,
                     strategy=strategy)
    safety = sim.controller.safety
    if cut == "before":  # the cut at 1 K below the rating whatever the firmware does
        safety._firmware_throttles = lambda _obs, _inlet_c: False  # type: ignore[method-assign]
    elif cut == "none":  # the cut compares the inlet with the model's rated maximum: move that out of reach
        safety.m = dataclasses.replace(safety.m, inlet_max_c=1_000.0)
    return run_loop(sim).summary  # type: ignore[return-value]


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()  # no options; --help says what it does
    print("| run | coolant cut | gas fuel kWh | L below 60 °C | coldest outlet °C | net EUR | limit changes |")
    print("|---|---|---:|---:|---:|---:|---:|")
    start_s = local_midnight_s(scenarios.load(SCENARIO), SUMMER)
    runs: list[tuple[str, str | ScheduleStrategy]] = [
        (f"17.4 kW, target 62 °C, aquastat {g:g} °C",
         ScheduleStrategy("full_power", Schedule.fixed(17_400.0, g, charge_target_c=62.0), start_s, dump_heat=False))
        for g in (62.0, 60.0, 58.0)
    ]
    runs += [("rule", "rule"), ("mpc", "mpc")]
    for label, strategy in runs:
        for cut in ("before", "now", "none"):
            s = week(strategy, cut)
            print(f"| {label} | {cut} | {s['gas_fuel_kwh']:.0f} | "
                  f"{s['dhw_volume_below_setpoint_l']:.0f} | {s['min_outlet_temp_c']:.2f} | {s['net_cost_eur']:.2f} | "
                  f"{s['power_limit_changes']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
