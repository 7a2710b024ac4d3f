"""Benchmark: what keeps residence-48-hot's summer week from running without gas? The safety layer's coolant cut.

    .venv/bin/python benchmarks/hot_summer_coolant_cut.py

With a controlled charging flow the pump returns the water at its target, so the miners' coolant inlet sits
in their firmware's throttle band (AH3880: 56-60 °C) by design. The safety layer curtails the fleet by half
once the inlet passes 1 K below the miners' rated maximum (`SafetyLayer`, reason `coolant_hot`): a forced
limit change that also spends the day's change budget, so the miners end up asleep while the store cools.
This runs the simplest setting someone would try, the whole fleet (17.4 kW) at a 62 °C charging target
with the burner's aquastat at 62/60/58 °C, once as the product runs it and once with the cut taken out of
the safety layer (the firmware still throttles, and stops the miner above 60 °C). Also the controllers
(`rule`, `mpc`) both ways. Seed 1, summer week from 6 July 2026; ~20 s. Not a test: the figures go to
docs/control.md §3 with this command.
"""

from __future__ import annotations

import dataclasses
import sys
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

from boiler import scenarios  # noqa: E402
from boiler.control.types import Decision, Observation  # noqa: E402
from boiler.simulation.runner import Simulation, run_loop  # noqa: E402

SCENARIO = "residence-48-hot"
SUMMER = date(2026, 7, 6)


class FullPower:
    """The whole fleet at one charging target, the burner on one aquastat: what an installer tries first."""

    name = "full_power"

    def __init__(self, power_w: float, target_c: float, gas_setpoint_c: float) -> None:
        self.power_w, self.target_c, self.gas_setpoint_c = power_w, target_c, gas_setpoint_c

    def decide(self, now_s: float, obs: Observation) -> Decision:
        return Decision(miner_power_w=self.power_w, charge_pump=True, gas_enable=True,
                        gas_setpoint_c=self.gas_setpoint_c, charge_target_c=self.target_c, reason="full_power")


def week(strategy: str | FullPower, cut: bool) -> dict[str, float]:
    sim = Simulation(scenarios.load(SCENARIO), 7, SUMMER, scenario=SCENARIO, seed=1, trace_points=50,
                     strategy=strategy)
    if not cut:  # the cut compares the inlet with the model's rated maximum: move that out of reach
        safety = sim.controller.safety
        safety.m = dataclasses.replace(safety.m, inlet_max_c=1_000.0)
    return run_loop(sim).summary  # type: ignore[return-value]


def main() -> None:
    print("| run | coolant cut | gas fuel kWh | L below 60 °C | coldest outlet °C | net EUR | limit changes |")
    print("|---|---|---:|---:|---:|---:|---:|")
    runs: list[tuple[str, str | FullPower]] = [
        (f"17.4 kW, target 62 °C, aquastat {g:g} °C", FullPower(17_400.0, 62.0, g)) for g in (62.0, 60.0, 58.0)
    ]
    runs += [("rule", "rule"), ("mpc", "mpc")]
    for label, strategy in runs:
        for cut in (True, False):
            s = week(strategy, cut)
            print(f"| {label} | {'on' if cut else 'off'} | {s['gas_fuel_kwh']:.0f} | "
                  f"{s['dhw_volume_below_setpoint_l']:.0f} | {s['min_outlet_temp_c']:.2f} | {s['net_cost_eur']:.2f} | "
                  f"{s['power_limit_changes']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
