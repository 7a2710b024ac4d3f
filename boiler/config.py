"""The plant's configuration: pydantic models loaded from YAML.

One file describes a site: its tanks and how they are piped, the miners, the coolant loop and
exchanger, the gas boiler, the draws, prices, hygiene rules and the control strategy. Errors
name the field's path, the bad value and what is allowed (`ConfigError`; the CLI exits 2).
"""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from boiler.economics import Co2Factors, ElectricityTariff, FlatTariff, GasPrice, MiningEconomics
from boiler.hygiene import HygieneRules
from boiler.mqtt.config import MqttConfig
from boiler.safe_yaml import YamlInputError, load_yaml_file
from boiler.telemetry.config import TelemetryConfig
from miners.allocation import AllocationPolicy
from miners.catalogue import CATALOGUE
from miners.config import MinerConfig
from tank.dhwcalc import GRDF_SOCIAL_SIZE_FACTORS

#: Largest building the draw model takes (flats of all types); the reference sites have 48–86.
MAX_FLATS = 2000
#: Largest fleet one plant config describes.
MAX_MINERS = 200


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class SiteConfig(_Strict):
    name: str = Field("site", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    timezone: str = Field("Europe/Paris", description="IANA zone for schedules (tariffs, legionella window).")
    plant_room_c: float = Field(18.0, ge=-10, le=45, description="Ambient of tanks, pipes and miners (°C).")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}; use an IANA name such as 'Europe/Paris'") from exc
        return v


class SensorConfig(_Strict):
    name: str = Field(min_length=1, max_length=64)
    height: float = Field(ge=0, le=1, description="Fraction of the tank height, 0 = bottom, 1 = top.")


class GasCoilConfig(_Strict):
    """Zone of the tank the gas boiler's coil heats, as fractions of the height."""

    bottom: float = Field(0.67, ge=0, le=1)
    top: float = Field(1.0, ge=0, le=1)
    sensor_height: float = Field(0.75, ge=0, le=1, description="Where the boiler's own aquastat reads.")

    @model_validator(mode="after")
    def _ordered(self) -> GasCoilConfig:
        if self.bottom >= self.top:
            raise FieldProblem(("bottom",), f"the coil's bottom must be below its top ({self.top})", self.bottom)
        return self


class TankConfig(_Strict):
    name: str = Field(min_length=1, max_length=64)
    role: Literal["finishing", "preheat"] = "finishing"
    volume_l: float = Field(ge=10, le=100_000, description="Water volume (L).")
    height_m: float = Field(2.0, ge=0.1, le=20, description="Height of the water column (m).")
    nodes: int = Field(10, ge=1, le=200, description="Layers of the stratified model (more = finer, slower).")
    ua_w_per_k: float = Field(6.0, ge=0, le=1000, description="Jacket heat-loss coefficient of the whole tank (W/K).")
    gas_coil: GasCoilConfig | None = None
    sensors: list[SensorConfig] = Field(
        max_length=32,
        default_factory=lambda: [
            SensorConfig(name="top", height=0.95),
            SensorConfig(name="upper", height=0.7),
            SensorConfig(name="middle", height=0.45),
            SensorConfig(name="bottom", height=0.05),
        ]
    )
    initial_c: Annotated[float, Field(ge=0, le=100)] | list[Annotated[float, Field(ge=0, le=100)]] = Field(
        55.0, description="Initial temperature (°C), or one value per node (top first)."
    )

    @model_validator(mode="after")
    def _check(self) -> TankConfig:
        if isinstance(self.initial_c, list) and len(self.initial_c) != self.nodes:
            raise FieldProblem(("initial_c",), f"initial_c has {len(self.initial_c)} values but the tank has "
                               f"{self.nodes} nodes; give one value per node, or one for all", self.initial_c)
        names = [s.name for s in self.sensors]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise FieldProblem(("sensors", i, "name"), f"sensor names must be unique, {name!r} is repeated", name)
        if not self.sensors:
            raise FieldProblem(("sensors",), "a tank needs at least one temperature sensor")
        return self


class CoolantConfig(_Strict):
    loop_volume_l: float = Field(60.0, ge=1, le=10_000, description="Water in the primary loop, pipes and miners (L).")
    ua_w_per_k: float = Field(5.0, ge=0, le=1000, description="Heat loss of the loop's pipes to the plant room (W/K).")
    min_inlet_c: float | None = Field(
        None, ge=0, le=80,
        description="A mixing valve keeps the miners' inlet at least this warm (°C); default the miners' minimum."
    )


class ExchangerConfig(_Strict):
    approach_k: float | None = Field(
        3.0, ge=0.1, le=30, description="Size the UA for this approach (K) at full miner power."
    )
    ua_w_per_k: float | None = Field(None, ge=10, le=10_000_000, description="Or give the UA directly (W/K).")

    @model_validator(mode="after")
    def _one(self) -> ExchangerConfig:
        if self.ua_w_per_k is None and self.approach_k is None:
            raise ValueError("give either approach_k or ua_w_per_k")
        return self


class ChargingConfig(_Strict):
    tank: str | None = Field(None, description="Tank the miners charge; default the first one.")
    inlet: Literal["stratified", "top"] = "stratified"
    flow: Literal["balanced", "controlled"] | Annotated[float, Field(ge=0.5, le=5000)] = Field(
        "balanced",
        description="'balanced' matches the coolant flow; 'controlled': a variable-speed pump sends the water "
        "back at `target_c` (low flow, high ΔT: charged in one pass); or a fixed secondary flow in L/min.",
    )
    target_c: float | None = Field(
        None, ge=30, le=90,
        description="With flow 'controlled': the temperature the pump's controller sends to the tank (°C); "
        "default the outlet setpoint + 2 K. The strategy may move it each tick.",
    )
    min_flow_lpm: float = Field(
        1.0, ge=0.1, le=5000, description="With flow 'controlled': the pump's lowest flow (L/min)."
    )
    max_flow_lpm: float | None = Field(
        None, ge=0.5, le=5000,
        description="With flow 'controlled': the pump's highest flow (L/min); default the coolant flow.",
    )

    def highest_lpm(self, coolant_lpm: float) -> float:
        """The charging circuit's highest secondary flow (L/min) for miners moving `coolant_lpm` of coolant:
        the coolant's own when balanced, the pump's highest when controlled, else the fixed flow."""
        if self.flow == "balanced":
            return coolant_lpm
        if self.flow == "controlled":
            return self.max_flow_lpm if self.max_flow_lpm is not None else coolant_lpm
        return float(self.flow)

    @model_validator(mode="after")
    def _controlled_only(self) -> ChargingConfig:
        if self.flow != "controlled":
            for key in ("target_c", "max_flow_lpm"):
                if getattr(self, key) is not None:
                    raise FieldProblem((key,), f"only with flow 'controlled' (flow is {self.flow!r})",
                                       getattr(self, key))
        elif self.max_flow_lpm is not None and self.max_flow_lpm < self.min_flow_lpm:
            raise FieldProblem(("max_flow_lpm",), f"below min_flow_lpm ({self.min_flow_lpm:g} L/min)",
                               self.max_flow_lpm)
        return self


class GasBoilerConfig(_Strict):
    output_kw: float = Field(120.0, ge=1, le=5000, description="Heat output at full rate (kW).")
    efficiency_pci: float = Field(0.92, gt=0.3, le=1.1, description="Heat out per fuel in, on the lower heating value.")
    min_run_s: float = Field(300.0, ge=0, le=86_400, description="Shortest burn once fired (s).")
    min_off_s: float = Field(300.0, ge=0, le=86_400, description="Shortest pause between burns (s).")
    hysteresis_k: float = Field(2.0, gt=0, le=20, description="Aquastat switching band (K).")
    min_modulation: float = Field(0.2, gt=0, le=1, description="Lowest firing rate as a share of full output.")
    modulation_band_k: float = Field(
        4.0, gt=0, le=40, description="Below setpoint by this much (K), it fires at full rate."
    )
    max_flow_c: float = Field(85.0, ge=40, le=110, description="Highest water temperature the boiler heats to (°C).")
    tank: str | None = Field(None, description="Tank with the gas coil; default the last (finishing) tank.")


class DryCoolerConfig(_Strict):
    capacity_kw: float = Field(gt=0, le=5000, description="Heat it can reject at design conditions (kW).")
    air_c: float = Field(15.0, ge=-40, le=50, description="Outdoor air around it (°C).")
    design_delta_k: float = Field(
        25.0, ge=1, le=80, description="Coolant − air (K) at which it rejects its capacity."
    )


class LoopConfig(_Strict):
    loss_w: float = Field(1500.0, ge=0, le=500_000, description="Heat lost at the design supply temperature (W).")
    design_supply_c: float = Field(60.0, ge=20, le=95, description="Supply temperature the loss is given at (°C).")
    drop_k: float = Field(4.0, gt=0, le=40, description="Supply − return at design conditions (K).")
    ambient_c: float | None = Field(None, ge=-20, le=50, description="Around the pipes (°C); default the plant room.")
    return_height: Annotated[float, Field(ge=0, le=1)] | Literal["stratified"] = Field(
        "stratified", description="Where the return enters the finishing tank (fraction of height)."
    )


class SeasonalMainsConfig(_Strict):
    type: Literal["seasonal"] = "seasonal"
    mean_c: float = Field(15.0, ge=0, le=35, description="Yearly mean cold-water temperature (°C).")
    amplitude_k: float = Field(6.0, ge=0, le=20, description="Half the summer−winter swing (K).")
    coldest_day: int = Field(46, ge=1, le=366, description="Day of the year the mains are coldest.")


class ConstantMainsConfig(_Strict):
    type: Literal["constant"] = "constant"
    temp_c: float = Field(10.0, ge=0, le=35, description="Cold-water temperature (°C).")


MainsConfig = Annotated[SeasonalMainsConfig | ConstantMainsConfig, Field(discriminator="type")]


class StochasticDrawsConfig(_Strict):
    type: Literal["stochastic"] = "stochastic"
    flats: dict[str, Annotated[int, Field(ge=0, le=MAX_FLATS)]] = Field(
        default_factory=lambda: {"T1": 8, "T2": 12, "T3": 16, "T4": 8, "T5": 4},
        description=f"Flats of each type ({', '.join(GRDF_SOCIAL_SIZE_FACTORS)}); at most {MAX_FLATS} in all.",
    )
    litres_per_standard_flat_day: float = Field(
        70.0, gt=0, le=1000, description="Hot water (L at 60 °C) a standard flat draws a day."
    )
    weekend_factor: float = Field(1.2, gt=0, le=5, description="Weekend day volume over a weekday's.")
    seasonal_amplitude: float = Field(0.10, ge=0, lt=1)
    shape: Literal["building", "household"] = "building"

    @field_validator("flats")
    @classmethod
    def _known_flats(cls, flats: dict[str, int]) -> dict[str, int]:
        for kind, count in flats.items():
            if kind not in GRDF_SOCIAL_SIZE_FACTORS:
                raise FieldProblem((kind,), f"unknown flat type; known: {', '.join(GRDF_SOCIAL_SIZE_FACTORS)}", count)
        total = sum(flats.values())
        if not 0 < total <= MAX_FLATS:
            raise ValueError(f"the building needs between 1 and {MAX_FLATS} flats in all, got {total}")
        return flats


class TappingCycleDrawsConfig(_Strict):
    type: Literal["eu"] = "eu"
    profile: Literal["M", "L", "XL", "XXL", "3XL", "4XL"] = "XL"
    scale: float = Field(1.0, gt=0, le=1000, description="Multiply every draw (e.g. 2 for two 4XL systems).")


class CsvDrawsConfig(_Strict):
    type: Literal["csv"] = "csv"
    path: Path


DrawsConfig = Annotated[
    StochasticDrawsConfig | TappingCycleDrawsConfig | CsvDrawsConfig, Field(discriminator="type")
]


class PricesConfig(_Strict):
    electricity: ElectricityTariff = Field(default_factory=FlatTariff)
    gas: GasPrice = Field(default_factory=GasPrice)


class RuleStrategyConfig(_Strict):
    coolant_margin_k: float = Field(
        0.5, ge=0, le=20, description="Keep the miners' inlet this far below where they start to throttle."
    )
    smoothing_s: float = Field(900.0, ge=0, le=86_400, description="Time constant smoothing the tank-base reading.")
    wake_after_s: float = Field(
        900.0, ge=0, le=86_400, description="Room for the miners must last this long to wake them."
    )
    gas_margin_k: float = Field(2.0, ge=0, le=20, description="Gas keeps the outlet zone this far above the setpoint.")
    peak_boost_k: float = Field(1.0, ge=0, le=20, description="Extra gas setpoint during the peak hours below.")
    cold_boost_k: float = Field(
        8.0, ge=0, le=30, description="Extra gas setpoint when the store's base is at mains temperature (scaled down "
        "to 0 at half-way to the setpoint)."
    )
    peak_hours: list[tuple[time, time]] = Field(
        default_factory=lambda: [(time(6, 30), time(9, 0)), (time(18, 0), time(22, 0))]
    )
    reserve_volume_l: float = Field(
        400.0, ge=0, le=100_000,
        description="Hot water (L, ≥ setpoint) the finishing tank should hold; below it gas boosts (where miners "
        "finish the water, only while the fleet draws under half its full power: running, it refills the reserve).",
    )
    power_step_w: float = Field(250.0, gt=0, le=100_000, description="Fleet power targets are rounded to this step.")
    finish_hold_full: bool = Field(
        True, description="Miners that finish the water hold full power and let their firmware throttle as the "
        "store fills (the safety layer leaves their throttle band to the firmware); false: charge in long runs and "
        "sleep once the store is full (the finish_* knobs below).",
    )
    finish_absorb_share: float = Field(
        0.9, gt=0, le=2, description="Miners that finish the water (controlled charging flow) charge while the store "
        "absorbs at least this share of the fleet's full power.",
    )
    finish_inlet_margin_k: float = Field(
        1.5, ge=0, le=20, description="Miners that finish the water charge until their inlet would come this close "
        "to their maximum (into their throttle band).",
    )
    finish_wake_k: float = Field(
        10.0, ge=0, le=50, description="Miners that finish the water wake once the store's base is this far below "
        "where it counts as full (or its hot water runs low).",
    )
    finish_wake_share: float = Field(
        0.3, gt=0, le=1, description="Miners that finish the water also wake once the finishing tank's hot water "
        "(≥ setpoint) falls below this share of its volume.",
    )
    finish_gas_margin_k: float = Field(
        0.0, ge=-5, le=10, description="Miners that finish the water: gas aquastat this far above setpoint + "
        "hysteresis (the backup fires below the setpoint).",
    )
    wake_margin_w: float = Field(
        2000.0, ge=0, le=1_000_000, description="Headroom needed above the minimum to wake miners."
    )
    up_hysteresis_w: float = Field(
        1500.0, ge=0, le=1_000_000, description="Raise the fleet target only past this margin."
    )
    down_hysteresis_w: float = Field(
        1000.0, ge=0, le=1_000_000, description="Cut the fleet target once this far too high."
    )


class ThermostatConfig(_Strict):
    sensor: str = Field("middle", description="Tank sensor the thermostat reads.")
    miners_on_below_c: float = Field(50.0, ge=0, le=99, description="Miners run below this reading (°C).")
    miners_off_above_c: float = Field(55.0, ge=0, le=99, description="Miners stop above this reading (°C).")
    gas_on_below_c: float = Field(57.0, ge=0, le=99, description="Gas fires below this reading (°C).")
    gas_off_above_c: float = Field(62.0, ge=0, le=99, description="Gas stops above this reading (°C).")


# -- predictive control and the perfect-foresight bound (task G; docs/control.md) ------------------
class OptimumConfig(_Strict):
    """`--strategy optimum`: the perfect-foresight LP, a yardstick for benchmarks."""

    slot_s: float = Field(3600.0, ge=60, le=86_400, description="LP time slot (finer = tighter bound, slower).")
    time_limit_s: float | None = Field(None, gt=0, le=86_400, description="Give up solving after this long.")
    co2_eur_per_kg: float = Field(0.0, ge=0, le=10, description="CO₂ price added to the LP's objective.")


class MpcConfig(_Strict):
    """`mpc`: receding-horizon LP on forecasts learned from the plant's own history."""

    horizon_h: float = Field(36.0, ge=2, le=96, description="How far ahead each plan looks.")
    slot_s: float = Field(3600.0, ge=300, le=7200, description="Plan resolution beyond the first slots.")
    fine_slots: int = Field(4, ge=1, le=24, description="Leading slots of one replan period each.")
    replan_s: float = Field(3600.0, ge=60, le=7200, description="Re-solve this often; follow the plan between.")
    time_limit_s: float = Field(2.0, gt=0, le=60, description="Solver time limit; past it, fall back to rule.")
    draw_margin: float = Field(0.05, ge=0, le=2, description="Forecast draws are raised by this share.")
    outlet_margin_k: float = Field(2.0, ge=0, le=10, description="Outlet above the setpoint the plan expects.")
    gas_margin_k: float = Field(
        0.0, ge=-2, le=10, description="Gas aquastat this far above setpoint + hysteresis (a negative margin holds "
        "only while the pre-heat water is warm; it fades as the cold boost grows).",
    )
    peak_boost_k: float = Field(1.0, ge=0, le=10, description="Extra gas setpoint before a forecast peak hour.")
    cold_boost_k: float = Field(
        7.0, ge=0, le=20, description="Extra gas setpoint when the pre-heat volume is as cold as the mains."
    )
    cold_offpeak_share: float = Field(
        0.25, ge=0, le=1, description="Share of the cold boost kept outside forecast peaks and a short hot reserve "
        "(the burner lifts off-peak draws in real time; the zone's excess bridges peaks).",
    )
    peak_factor: float = Field(1.5, ge=1, le=10, description="A peak hour draws this many times the mean hour.")
    change_min_w: float = Field(
        1000.0, ge=0, le=1_000_000, description="Move the fleet target only by at least this much."
    )
    stratification_k: float = Field(
        5.0, ge=0, le=30, description="The plan takes the store's base this far below its pre-heat mean."
    )
    forecast_days: int = Field(28, ge=1, le=365, description="History the draw forecast keeps (days).")
    learn_h: float = Field(
        1.0, ge=0.25, le=168, description="History the forecast needs before the plan decides (rule until then)."
    )
    co2_eur_per_kg: float = Field(0.0, ge=0, le=10, description="CO₂ price added to the plan's objective.")
    change_eur_per_kw: float = Field(
        0.03, ge=0, le=10, description="Plan cost of each kW the fleet's power moves between slots (steady power)."
    )
    smooth_h: float = Field(
        1.5, ge=0, le=48, description="Follow the plan's mean fleet power over this many hours ahead (0: its slot)."
    )
    sized_boost: bool = Field(
        False, description="Gas boost sized to the next hour's largest forecast draw (else peak/cold/reserve boosts)."
    )
    absorb_cap: bool = Field(
        False, description="Cap the fleet by what the store absorbs now (else the miners' own inlet throttle does)."
    )
    finish_gas_margin_k: float = Field(
        -1.0, ge=-2, le=10, description="Miners that finish the water (controlled charging flow): the backup "
        "aquastat's margin in place of `gas_margin_k`, and no cold boost (a cold base is normal there).",
    )
    snap_share: float = Field(
        0.5, ge=0, le=1, description="A fleet power at least this share of what one more miner needs at its "
        "minimum is raised to it (1: never).",
    )
    outlet_trim_max_k: float = Field(
        4.0, ge=0, le=20, description="Lower the gas aquastat by up to this much while each day's coldest outlet "
        "stays `outlet_trim_guard_k` above the setpoint (0: off).",
    )
    outlet_trim_guard_k: float = Field(
        2.0, ge=0.5, le=20, description="A day's coldest outlet this far above the setpoint lets the trim go lower.",
    )
    reserve_trim_k: float = Field(
        4.0, ge=0, le=20, description="Lower the gas aquastat by this much while the finishing tank holds "
        "`reserve_ample_cover` times the next hour's forecast draw above the setpoint (0: off).",
    )
    reserve_ample_cover: float = Field(
        4.0, ge=1, le=20, description="Hot reserve, as a multiple of the next hour's forecast draw, that lets "
        "`reserve_trim_k` act.",
    )
    outlet_trim_alarm_k: float = Field(
        0.5, ge=0, le=10, description="An outlet this close to the setpoint takes the whole trim back at once "
        "(0: only at the day's end).",
    )
    gas_backup_only: bool = Field(
        False, description="The operator's policy of gas as a backup only, even where it is the cheaper heat: the "
        "plan burns gas only for heat the miners cannot make, and miners that finish the water (controlled "
        "charging flow) hold full power while they run (their firmware throttles). False: gas where it is cheaper.",
    )


# -- which strategy decides: a discriminated union keyed on `type` ----------------------------
# Each `type` is a key of the one registry of strategies (boiler/control/registry.py; a test keeps
# the two equal). A bare name (`strategy: mpc`) is read as `{type: mpc}`. The knobs of each strategy
# stay in their own sections (`control.rule`, `control.mpc`, ...): `mpc` falls back on the rule's.
class RuleChoice(_Strict):
    """Rules on the store's state and the prices of the moment (knobs: `control.rule`)."""

    type: Literal["rule"] = "rule"


class ThermostatChoice(_Strict):
    """The naive baseline: miners on below one sensor's band, gas on its own aquastat."""

    type: Literal["thermostat"] = "thermostat"


class MpcChoice(_Strict):
    """Receding-horizon plan on learned draw forecasts (knobs: `control.mpc`)."""

    type: Literal["mpc"] = "mpc"


StrategyChoice = Annotated[RuleChoice | ThermostatChoice | MpcChoice, Field(discriminator="type")]
STRATEGY_TYPES = ("rule", "thermostat", "mpc")


class ControlConfig(_Strict):
    strategy: StrategyChoice = Field(
        default_factory=RuleChoice, description="Which strategy decides: `{type: rule|thermostat|mpc}` or the name."
    )
    period_s: float = Field(
        240.0, ge=1, le=3600,
        description="Decision tick in simulation, rounded to whole physics steps (the plant is slow; miners must "
        "not chatter). The service decides every `service.tick_s`.",
    )
    setpoint_c: float = Field(60.0, ge=40, le=80, description="Outlet temperature to hold.")
    max_tank_c: float = Field(80.0, ge=40, le=99, description="Above this (°C) anywhere in a tank, charging stops.")
    safe_miner_power_w: float = Field(
        0.0, ge=0, le=10_000_000, description="Fleet power in the safe state (W; 0 = asleep)."
    )
    sensor_fault_ticks: int = Field(2, ge=1, le=1000, description="Consecutive bad readings before the safe state.")
    legionella_window: tuple[time, time] = (time(2, 0), time(5, 0))
    legionella_target_c: float = Field(
        66.0, ge=50, le=95, description="Whole-store temperature (°C) aimed for during a cycle."
    )
    allocation: AllocationPolicy = Field(default_factory=AllocationPolicy)
    rule: RuleStrategyConfig = Field(default_factory=RuleStrategyConfig)
    thermostat: ThermostatConfig = Field(default_factory=ThermostatConfig)
    mpc: MpcConfig = Field(default_factory=MpcConfig)  # task G
    optimum: OptimumConfig = Field(default_factory=OptimumConfig)  # task G

    @field_validator("strategy", mode="before")
    @classmethod
    def _name_alone(cls, v: Any) -> Any:
        if isinstance(v, str):
            if v not in STRATEGY_TYPES:
                allowed = ", ".join(repr(t) for t in STRATEGY_TYPES)
                raise ValueError(f"Input should be {allowed} (or a mapping with such a `type`); got {v!r}")
            return {"type": v}
        return v

    @property
    def strategy_name(self) -> str:
        return self.strategy.type


class ServiceConfig(_Strict):
    """The plant service (`boiler run`, `boiler demo`)."""

    state_path: Path = Field(Path("/var/lib/boiler/state.sqlite"), description="SQLite file: ledger and memory.")
    tick_s: float = Field(10.0, ge=0.5, le=600, description="How often the service reads, decides and acts.")
    miner_timeout_s: float = Field(5.0, gt=0, le=60, description="Longest wait for one miner in one call.")
    ledger_interval_s: float = Field(3600.0, ge=60, le=86400, description="Length of one ledger row.")
    on_exit: Literal["keep", "sleep", "safe"] = Field(
        "keep", description="Miners on a clean stop: keep running, sleep, or go to control.safe_miner_power_w."
    )


class SimulationConfig(_Strict):
    step_s: float = Field(120.0, ge=1, le=600, description="Physics time step of the simulator (s).")


class PlantConfig(_Strict):
    """A whole site. Tanks are listed in flow order: cold water enters the first, the last feeds the taps."""

    description: str = ""
    site: SiteConfig = Field(default_factory=SiteConfig)
    tanks: list[TankConfig] = Field(min_length=1, max_length=8)
    charging: ChargingConfig = Field(default_factory=ChargingConfig)
    miners: list[MinerConfig] = Field(default_factory=list, max_length=MAX_MINERS)
    coolant: CoolantConfig = Field(default_factory=CoolantConfig)
    exchanger: ExchangerConfig = Field(default_factory=ExchangerConfig)
    gas_boiler: GasBoilerConfig | None = Field(default_factory=GasBoilerConfig)
    dry_cooler: DryCoolerConfig | None = None
    loop: LoopConfig | None = Field(default_factory=LoopConfig)
    mains: MainsConfig = Field(default_factory=SeasonalMainsConfig)
    draws: DrawsConfig = Field(default_factory=StochasticDrawsConfig)
    prices: PricesConfig = Field(default_factory=PricesConfig)
    mining: MiningEconomics = Field(default_factory=MiningEconomics)
    co2: Co2Factors = Field(default_factory=Co2Factors)
    hygiene: HygieneRules = Field(default_factory=HygieneRules)
    control: ControlConfig = Field(default_factory=ControlConfig)
    simulation: SimulationConfig = Field(default_factory=SimulationConfig)
    service: ServiceConfig = Field(default_factory=ServiceConfig)
    mqtt: MqttConfig | None = None
    telemetry: TelemetryConfig | None = None

    @model_validator(mode="after")
    def _cross_check(self) -> PlantConfig:
        names = [t.name for t in self.tanks]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise FieldProblem(("tanks", i, "name"), f"tank names must be unique, {name!r} is repeated", name)
        for ref, where in ((self.charging.tank, ("charging", "tank")),
                           (self.gas_boiler.tank if self.gas_boiler else None, ("gas_boiler", "tank"))):
            if ref is not None and ref not in names:
                raise FieldProblem(where, f"not a tank; tanks are {names}", ref)
        miner_names = [m.name for m in self.miners]
        for i, m in enumerate(self.miners):
            if m.name in miner_names[:i]:
                raise FieldProblem(("miners", i, "name"), f"miner names must be unique, {m.name!r} is repeated",
                                   m.name)
            if m.model not in CATALOGUE:
                raise FieldProblem(("miners", i, "model"), f"unknown model; known: {', '.join(sorted(CATALOGUE))}",
                                   m.model)
        if self.gas_boiler is not None and self.gas_tank.gas_coil is None:
            i = self.tanks.index(self.gas_tank)
            raise FieldProblem(("tanks", i, "gas_coil"), f"tank {self.gas_tank.name!r} has the gas boiler but no "
                               "gas_coil zone (add one, or set gas_boiler: null)")
        if self.control.strategy_name == "thermostat":
            sensor = self.control.thermostat.sensor
            known = [s.name for s in self.charge_tank.sensors]
            if sensor not in known:
                raise FieldProblem(("control", "thermostat", "sensor"),
                                   f"not a sensor of tank {self.charge_tank.name!r}; its sensors are {known}", sensor)
        if self.loop is not None and self.loop.loss_w > 0:
            ambient_c = self.loop.ambient_c if self.loop.ambient_c is not None else self.site.plant_room_c
            room_k = self.loop.design_supply_c - ambient_c
            if not 0 < self.loop.drop_k < room_k:
                raise FieldProblem(("loop", "drop_k"), f"must be below design_supply_c − ambient "
                                   f"({self.loop.design_supply_c:g} − {ambient_c:g} = {room_k:g} K): the loop "
                                   "cannot lose more than it holds above its surroundings", self.loop.drop_k)
        return self

    @property
    def charge_tank(self) -> TankConfig:
        name = self.charging.tank
        return next(t for t in self.tanks if t.name == name) if name else self.tanks[0]

    @property
    def charge_target_c(self) -> float | None:
        """With a controlled charging flow, the water it sends to the tank by default (°C); else None."""
        if self.charging.flow != "controlled":
            return None
        return self.charging.target_c if self.charging.target_c is not None else self.control.setpoint_c + 2.0

    @property
    def gas_tank(self) -> TankConfig:
        name = self.gas_boiler.tank if self.gas_boiler else None
        return next(t for t in self.tanks if t.name == name) if name else self.tanks[-1]

    @property
    def finishing_tank(self) -> TankConfig:
        return self.tanks[-1]


class ConfigError(Exception):
    """A config file that cannot be used; the message is meant for the installer."""


_NO_VALUE = object()


class FieldProblem(ValueError):
    """A check across fields that knows which field is wrong: `path` is relative to the model raising it."""

    def __init__(self, path: tuple[str | int, ...], message: str, value: Any = _NO_VALUE) -> None:
        super().__init__(message)
        self.path = path
        self.value = value


#: Problems listed one by one; past this, the message says how many more there are.
MAX_LISTED_PROBLEMS = 20


def show_value(value: Any, limit: int = 80) -> str:
    """A short, bounded rendering of a bad value (never the whole of a huge input)."""
    if isinstance(value, dict):
        return f"a mapping of {len(value)} key(s)"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)} item(s)"
    if isinstance(value, str):
        shown = json.dumps(value[: limit + 1], ensure_ascii=False)
    elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        shown = f"an integer of about {int(value.bit_length() * 0.30103)} digits"
    else:
        try:
            shown = json.dumps(value, default=str)
        except (TypeError, ValueError):
            shown = type(value).__name__
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def format_problem(path: tuple[str | int, ...], message: str, value: Any = _NO_VALUE) -> str:
    where = ".".join(str(p) for p in path) or "(top level)"
    got = "" if value is _NO_VALUE else f"; got {show_value(value)}"
    return f"  {where}: {message}{got}"


def data_path(loc: tuple[str | int, ...], data: Any) -> tuple[str | int, ...]:
    """pydantic's error location as a path in the file: without the labels it adds for unions (the
    `type:` tag of a discriminated union, `float` or `list[float]` of a plain one)."""
    out: list[str | int] = []
    here = data
    for part in loc:
        if isinstance(part, str) and (
            (isinstance(here, dict) and part not in here and here.get("type") == part)
            or (here is not None and not isinstance(here, dict))
        ):
            continue
        out.append(part)
        if isinstance(here, dict):
            here = here.get(part)
        elif isinstance(here, list) and isinstance(part, int) and 0 <= part < len(here):
            here = here[part]
        else:
            here = None
    return tuple(out)


def format_validation_error(exc: ValidationError, source: str, data: Any = None) -> str:
    """One line per problem: the field's path in the file (from `data`, the validated input), what is
    wrong and allowed, and the value found."""
    # The members of a union fail one by one at the same place: one line says what each wanted.
    merged: dict[tuple[tuple[str | int, ...], str], list[str]] = {}
    for err in exc.errors(include_url=False):
        path = data_path(tuple(err["loc"]), data) if data is not None else tuple(err["loc"])
        value = err.get("input", _NO_VALUE)
        ctx = err.get("ctx") or {}
        cause = ctx.get("error")
        if isinstance(cause, FieldProblem):
            path, value = path + cause.path, cause.value
            msg = str(cause)
        else:
            msg = err["msg"].removeprefix("Value error, ")
            expected = ctx.get("expected")
            if expected is not None and str(expected) not in msg:
                msg += f" (allowed: {expected})"
        shown = "" if value is _NO_VALUE else show_value(value)
        msgs = merged.setdefault((path, shown), [])
        if msg not in msgs:
            msgs.append(msg)
    # A list or mapping that fits no member of a union, next to the deeper error that says why: the
    # deeper one is enough.
    for path, shown in [k for k in merged if k[1].startswith(("a list of", "a mapping of"))]:
        if any(len(p) > len(path) and p[: len(path)] == path for p, _ in merged):
            del merged[(path, shown)]
    lines = [f"{source}: {len(merged)} problem(s) in the configuration:"]
    for (path, shown), msgs in list(merged.items())[:MAX_LISTED_PROBLEMS]:
        where = ".".join(str(p) for p in path) or "(top level)"
        lines.append(f"  {where}: {'; or '.join(msgs)}" + (f"; got {shown}" if shown else ""))
    if len(merged) > MAX_LISTED_PROBLEMS:
        lines.append(f"  … and {len(merged) - MAX_LISTED_PROBLEMS} more")
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    """YAML's Python objects as JSON values: string keys, dates as ISO text, sets and tuples as lists."""
    if isinstance(value, dict):
        return {k if isinstance(k, str) else _key_text(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _key_text(key: Any) -> str:
    if isinstance(key, bool) or key is None:
        return json.dumps(key)
    if isinstance(key, datetime | date | time):
        return key.isoformat()
    return str(key) if not isinstance(key, int) or key.bit_length() < 200 else "<huge integer>"


def non_finite_floats(model: BaseModel) -> list[tuple[tuple[str | int, ...], float]]:
    """Every NaN or infinite float in a validated model, with its field path."""
    found: list[tuple[tuple[str | int, ...], float]] = []

    def walk(value: Any, path: tuple[str | int, ...]) -> None:
        if isinstance(value, float):
            if not math.isfinite(value):
                found.append((path, value))
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name), (*path, name))
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            for f in dataclasses.fields(value):
                walk(getattr(value, f.name), (*path, f.name))
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, (*path, k))
        elif isinstance(value, list | tuple):
            for i, v in enumerate(value):
                walk(v, (*path, i))

    walk(model, ())
    return found


def parse_config(data: Any, source: str = "config") -> PlantConfig:
    """Validate parsed YAML: types strictly as JSON has them (`yes` is no number, `10.5` no count),
    every float finite; ConfigError naming each problem's field path, the value and what is allowed."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections, got {type(data).__name__}")
    plain = None
    try:
        plain = _plain(data)
        cfg = PlantConfig.model_validate_json(json.dumps(plain, allow_nan=True), strict=True)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source, plain)) from exc
    except (ValueError, RecursionError) as exc:  # json: an integer too long to print, nesting
        raise ConfigError(f"{source}: cannot read the configuration: {exc}") from exc
    bad = non_finite_floats(cfg)
    if bad:
        lines = [f"{source}: {len(bad)} problem(s) in the configuration:"]
        lines += [format_problem(path, "must be a finite number", value) for path, value in bad[:MAX_LISTED_PROBLEMS]]
        raise ConfigError("\n".join(lines))
    return cfg


def load_config(path: Path) -> PlantConfig:
    """Read, bound, parse and validate a config file (see `boiler.safe_yaml` for the bounds)."""
    try:
        data = load_yaml_file(path)
    except YamlInputError as exc:
        raise ConfigError(str(exc)) from None
    cfg = parse_config(data, str(path))
    draws = cfg.draws
    if isinstance(draws, CsvDrawsConfig) and not draws.path.is_absolute():
        cfg.draws = draws.model_copy(update={"path": path.parent / draws.path})
    return cfg


def service_problems(cfg: PlantConfig) -> list[str]:
    """What `boiler run` refuses in a valid config: the plant's I/O and the miners' addresses."""
    problems = []
    if cfg.mqtt is None:
        problems.append("mqtt: required to run a real plant (sensors and actuators live there)")
    missing = [f"miners.{i}.host" for i, m in enumerate(cfg.miners) if m.host is None]
    if missing:
        problems.append(f"{', '.join(missing)}: a real miner needs its IP address")
    return problems


def config_json_schema() -> dict[str, Any]:
    return PlantConfig.model_json_schema()
