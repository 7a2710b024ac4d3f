"""What the controller knows of its plant, derived once from the config.

Strategies reason with these figures (exchanger UA, the miners' coolant limits, which tank has
which sensors) instead of re-reading the config every tick.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from boiler.config import PlantConfig
from miners.catalogue import MinerSpec, get_spec
from tank.estimate import TankEstimate, estimate_tank
from tank.exchanger import PlateExchanger
from tank.water import lpm_to_w_per_k


def exchanger_ua_w_per_k(cfg: PlantConfig) -> float:
    """The plate exchanger's UA: as configured, or sized for the design approach at full miner power."""
    if cfg.exchanger.ua_w_per_k is not None:
        return cfg.exchanger.ua_w_per_k
    specs = [get_spec(m.model) for m in cfg.miners]
    heat_w = sum(s.max_power_w * s.heat_to_coolant for s in specs)
    return PlateExchanger.sized_for_approach(max(heat_w, 1.0), cfg.exchanger.approach_k or 3.0).ua_w_per_k


#: Below the miners' throttle point the controlled charge keeps their inlet (K), and what the exchanger's
#: hot end keeps above the water it sends (K) at low secondary flow.
_FINISH_INLET_MARGIN_K = 1.0
_FINISH_APPROACH_K = 1.0
#: The finishing target stays this close to the setpoint at most (K): hotter water only loses more.
_FINISH_MAX_ABOVE_SETPOINT_K = 5.0


def _finish_target_c(cfg: PlantConfig, fleet_heat_w: float, c_hot_w_per_k: float,
                     inlet_throttle_c: float) -> float | None:
    """With a controlled charging flow the exchanger sends the water back at the coolant's hot end (less a
    small approach): at full power that is the inlet plus the coolant's rise. The hottest target the fleet
    holds without throttling, capped a few kelvin above the setpoint; None if it cannot finish the water."""
    if cfg.charging.flow != "controlled" or fleet_heat_w <= 0 or c_hot_w_per_k <= 0:
        return None
    reach = inlet_throttle_c - _FINISH_INLET_MARGIN_K + fleet_heat_w / c_hot_w_per_k - _FINISH_APPROACH_K
    setpoint = cfg.control.setpoint_c
    if reach < setpoint + 2.0:
        return None
    return min(reach, setpoint + _FINISH_MAX_ABOVE_SETPOINT_K)


@dataclass(frozen=True, slots=True)
class PlantModel:
    setpoint_c: float
    miner_specs: dict[str, MinerSpec]
    fleet_max_w: float
    fleet_min_w: float  # the smallest single miner's minimum: below it, everything sleeps
    heat_fraction: float
    #: Coolant inlet where the first miner stops (the lowest of the miners' maximum inlets).
    inlet_max_c: float
    #: Coolant inlet where the first miner starts throttling itself: the strategy plans below it.
    inlet_throttle_c: float
    #: Exchanger: the coolant inlet sits about Q/ua_w_per_k above the charged tank's base.
    ua_w_per_k: float
    c_hot_w_per_k: float
    #: Hottest water the miners can deliver to the charged tank at full power.
    miner_reach_c: float
    has_gas: bool
    has_dry_cooler: bool
    charge_tank: str
    finishing_tank: str
    #: "tank.sensor" keys of the charged tank's lowest and highest sensor, and the finishing top.
    charge_bottom_sensor: str
    charge_top_sensor: str
    finishing_top_sensor: str
    sensor_keys: tuple[str, ...]
    nominal_j_per_th: float
    #: Per tank: volume and its sensors as ("tank.sensor", height fraction), for state estimates.
    tank_volumes_l: dict[str, float]
    tank_sensors: dict[str, tuple[tuple[str, float], ...]]
    #: With a controlled charging flow (a variable-speed pump sending the water to the tank at a target):
    #: the hottest target the fleet reaches at full power with its inlet a kelvin below throttling, if that
    #: is at least 2 K above the setpoint (then the miners alone can finish the water); else None.
    finish_target_c: float | None = None

    @staticmethod
    def from_config(cfg: PlantConfig, exchanger_ua_w_per_k: float) -> PlantModel:
        specs = {m.name: get_spec(m.model) for m in cfg.miners}
        charge = cfg.charge_tank
        finishing = cfg.finishing_tank
        by_height = sorted(charge.sensors, key=lambda s: s.height)
        fin_top = max(finishing.sensors, key=lambda s: s.height)
        flow_lpm = sum(s.coolant_flow_lpm for s in specs.values())
        c_hot = lpm_to_w_per_k(flow_lpm) if flow_lpm else 0.0
        fleet_max = sum(s.max_power_w for s in specs.values())
        heat_fraction = (
            sum(s.heat_to_coolant * s.max_power_w for s in specs.values()) / fleet_max if fleet_max else 0.97
        )
        inlet_max = min((s.inlet_max_c for s in specs.values()), default=0.0)
        inlet_throttle = min((s.throttle_start_c for s in specs.values()), default=0.0)
        # At full power with balanced flows, the secondary return is T_base + Q/C and the inlet is
        # T_base + Q/UA; the base may rise until the inlet reaches its limit.
        heat = fleet_max * heat_fraction
        reach = inlet_throttle - heat / exchanger_ua_w_per_k + (heat / c_hot if c_hot else 0.0) if specs else 0.0
        total_ths = sum(s.nominal_hashrate_ths for s in specs.values())
        total_w = sum(s.nominal_power_w for s in specs.values())
        return PlantModel(
            setpoint_c=cfg.control.setpoint_c,
            miner_specs=specs,
            fleet_max_w=fleet_max,
            fleet_min_w=min((s.min_power_w for s in specs.values()), default=0.0),
            heat_fraction=heat_fraction,
            inlet_max_c=inlet_max,
            inlet_throttle_c=inlet_throttle,
            ua_w_per_k=exchanger_ua_w_per_k,
            c_hot_w_per_k=c_hot,
            miner_reach_c=reach,
            has_gas=cfg.gas_boiler is not None,
            has_dry_cooler=cfg.dry_cooler is not None,
            charge_tank=charge.name,
            finishing_tank=finishing.name,
            charge_bottom_sensor=f"{charge.name}.{by_height[0].name}",
            charge_top_sensor=f"{charge.name}.{by_height[-1].name}",
            finishing_top_sensor=f"{finishing.name}.{fin_top.name}",
            sensor_keys=tuple(f"{t.name}.{s.name}" for t in cfg.tanks for s in t.sensors),
            nominal_j_per_th=total_w / total_ths if total_ths else 0.0,
            tank_volumes_l={t.name: t.volume_l for t in cfg.tanks},
            tank_sensors={t.name: tuple((f"{t.name}.{s.name}", s.height) for s in t.sensors) for t in cfg.tanks},
            finish_target_c=_finish_target_c(cfg, heat, c_hot, inlet_throttle),
        )

    def estimate(self, tank: str, sensors_c: Mapping[str, float | None], reference_c: float) -> TankEstimate | None:
        """State of one tank from its sensors (None if none is readable)."""
        readings = [(height, sensors_c.get(key)) for key, height in self.tank_sensors[tank]]
        return estimate_tank(self.tank_volumes_l[tank], readings, self.setpoint_c, reference_c)
