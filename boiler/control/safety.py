"""Safety and hygiene rules that wrap any strategy and may override it.

In order of precedence:
1. a sensor that stays missing or implausible, or a miner fleet that stays unreachable, for
   `sensor_fault_ticks` ticks → safe state: gas on (its own aquastat keeps the water hot without
   our sensors), miners to the configured safe power, charging off unless the safe power needs it;
2. tank over-temperature anywhere → stop charging, miners asleep;
3. coolant over-temperature at the miners' inlet → curtail the miners at once;
4. legionella duty: when the hygiene rules need a daily raise before the next window, run a cycle
   in the allowed window (gas to the cycle temperature, destratification pump on, miners off)
   until the checker has seen it pass.
Every override says why in the decision's `reason`.
"""

from __future__ import annotations

from dataclasses import replace

from boiler.config import ControlConfig
from boiler.control.plant_model import PlantModel
from boiler.control.strategies import Strategy
from boiler.control.types import Decision, Observation
from boiler.schedule import in_window, minute_of
from miners.catalogue import MinerSpec

#: A fleet counts as throttling while it draws no more than its firmware allows this much cooler (K): the
#: firmware reads its own inlet, and a power reading may lag a rising inlet by a step.
THROTTLE_LAG_K = 1.0

#: The reason of the daily disinfection duty (the loop leaves these ticks out of the mean outlet).
LEGIONELLA_CYCLE_REASON = "legionella_cycle"


class SafetyLayer:
    def __init__(self, strategy: Strategy, model: PlantModel, control: ControlConfig,
                 gas_hysteresis_k: float = 2.0) -> None:
        self.strategy = strategy
        self.m = model
        self.c = control
        self.gas_hysteresis_k = gas_hysteresis_k
        self._bad_ticks: dict[str, int] = {}

    @property
    def name(self) -> str:
        return self.strategy.name

    def _faulty_sensors(self, obs: Observation) -> list[str]:
        readings: dict[str, object] = dict(obs.sensors_c)
        readings["outlet"] = obs.outlet_c
        if self.m.fleet_max_w > 0:
            readings["coolant_in"] = obs.coolant_in_c
            # A fleet we cannot reach at all cannot be trusted to be where we left it.
            readings["miners"] = True if any(r.available for r in obs.miners) else None
        faulty = []
        for key, value in readings.items():
            if value is None:
                n = self._bad_ticks.get(key, 0) + 1
                self._bad_ticks[key] = n
                if n >= self.c.sensor_fault_ticks:
                    faulty.append(key)
            else:
                self._bad_ticks.pop(key, None)
        return faulty

    def safe_state(self, why: str) -> Decision:
        safe_w = self.c.safe_miner_power_w
        return Decision(
            miner_power_w=safe_w,
            charge_pump=safe_w > 0,
            gas_enable=self.m.has_gas,
            gas_setpoint_c=self.c.setpoint_c + self.gas_hysteresis_k + self.c.rule.gas_margin_k,
            reason=f"safe:{why}",
            force=True,
            decided_by="safety",
        )

    def _firmware_throttles(self, obs: Observation, inlet_c: float) -> bool:
        """Is a hot coolant inlet the firmware's to handle? With miners that finish the water (a controlled
        charging flow) the inlet sits in the firmware's throttle band by design, and curtailing there only
        spends the change budget while the store cools (docs/control.md §3): the layer leaves it to the
        firmware as long as the running miners draw no more than their throttle allows at this inlet. A
        fleet drawing more (a firmware that does not throttle) is curtailed; elsewhere an inlet this hot
        means a full store and is curtailed as before."""
        if self.m.finish_target_c is None:
            return False
        running = [r for r in obs.miners if r.limit_w is not None and r.name in self.m.miner_specs]
        allowed_w = sum(_throttled_w(self.m.miner_specs[r.name], inlet_c) for r in running)
        return sum(r.power_w for r in running) <= allowed_w

    def decide(self, now_s: float, obs: Observation) -> Decision:
        faulty = self._faulty_sensors(obs)
        if faulty:
            return self.safe_state("sensor_fault:" + ",".join(sorted(faulty)))
        decision = self.strategy.decide(now_s, obs)
        temps = [t for t in obs.sensors_c.values() if t is not None]
        if temps and max(temps) > self.c.max_tank_c:
            return replace(decision, miner_power_w=0.0, charge_pump=False, force=True, dump_heat=False,
                           reason="tank_hot", decided_by="safety")
        if obs.coolant_in_c is not None and obs.coolant_in_c > self.m.inlet_max_c - 1.0:
            if not self._firmware_throttles(obs, obs.coolant_in_c):
                curtailed = min(decision.miner_power_w, 0.5 * obs.running_w)
                return replace(decision, miner_power_w=curtailed, force=True,
                               reason=f"coolant_hot:{decision.reason}", decided_by="safety")
            # Left to the firmware: said in the tick's reason, so the state and the logs show it.
            decision = replace(decision, reason=f"{decision.reason}:firmware_throttle")
        if obs.legionella_due and in_window(obs.local_minute, *self.c.legionella_window):
            window_start_s = obs.now_s - ((obs.local_minute - minute_of(self.c.legionella_window[0])) % 1440) * 60
            passed = obs.legionella_last_pass_s is not None and obs.legionella_last_pass_s >= window_start_s
            if not passed:
                if not self.m.has_gas:
                    return replace(decision, reason=f"legionella_due_no_heater:{decision.reason}")
                return Decision(
                    miner_power_w=0.0,
                    charge_pump=False,
                    gas_enable=True,
                    gas_setpoint_c=self.c.legionella_target_c + self.gas_hysteresis_k,
                    destratify=True,
                    reason=LEGIONELLA_CYCLE_REASON,
                    decided_by="safety",
                )
        return decision


def _throttled_w(spec: MinerSpec, inlet_c: float) -> float:
    """The most a throttling firmware may draw at this inlet, a step's lag allowed; above the rated maximum
    only its standby (the firmware must have stopped the miner)."""
    if inlet_c > spec.inlet_max_c:
        return spec.standby_power_w
    return spec.throttle_cap_w(inlet_c - THROTTLE_LAG_K)
