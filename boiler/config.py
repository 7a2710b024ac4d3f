"""The plant's configuration: pydantic models loaded from YAML.

One file describes a site: its tanks and how they are piped, the miners, the coolant loop and
exchanger, the gas boiler, the draws, prices, hygiene rules and the control strategy. Errors
name the field's path, the bad value and what is allowed (`ConfigError`; the CLI exits 2).
"""

from __future__ import annotations

import json
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from boiler.economics import Co2Factors, ElectricityTariff, FlatTariff, GasPrice, MiningEconomics
from boiler.hygiene import HygieneRules
from boiler.mqtt.config import MqttConfig
from boiler.telemetry.config import TelemetryConfig
from miners.allocation import AllocationPolicy
from miners.catalogue import CATALOGUE
from miners.config import MinerConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SiteConfig(_Strict):
    name: str = Field("site", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    timezone: str = Field("Europe/Paris", description="IANA zone for schedules (tariffs, legionella window).")
    plant_room_c: float = Field(18.0, ge=-10, le=45, description="Ambient of tanks, pipes and miners.")

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
    name: str = Field(min_length=1)
    height: float = Field(ge=0, le=1, description="Fraction of the tank height, 0 = bottom, 1 = top.")


class GasCoilConfig(_Strict):
    """Zone of the tank the gas boiler's coil heats, as fractions of the height."""

    bottom: float = Field(0.67, ge=0, le=1)
    top: float = Field(1.0, ge=0, le=1)
    sensor_height: float = Field(0.75, ge=0, le=1, description="Where the boiler's own aquastat reads.")

    @model_validator(mode="after")
    def _ordered(self) -> GasCoilConfig:
        if self.bottom >= self.top:
            raise ValueError(f"coil bottom ({self.bottom}) must be below its top ({self.top})")
        return self


class TankConfig(_Strict):
    name: str = Field(min_length=1)
    role: Literal["finishing", "preheat"] = "finishing"
    volume_l: float = Field(gt=0, le=100_000)
    height_m: float = Field(2.0, gt=0, le=20)
    nodes: int = Field(10, ge=1, le=200)
    ua_w_per_k: float = Field(6.0, ge=0, description="Jacket heat-loss coefficient of the whole tank.")
    gas_coil: GasCoilConfig | None = None
    sensors: list[SensorConfig] = Field(
        default_factory=lambda: [
            SensorConfig(name="top", height=0.95),
            SensorConfig(name="upper", height=0.7),
            SensorConfig(name="middle", height=0.45),
            SensorConfig(name="bottom", height=0.05),
        ]
    )
    initial_c: float | list[float] = Field(55.0, description="Initial temperature, or one value per node (top first).")

    @model_validator(mode="after")
    def _check(self) -> TankConfig:
        if isinstance(self.initial_c, list) and len(self.initial_c) != self.nodes:
            raise ValueError(f"initial_c has {len(self.initial_c)} values but the tank has {self.nodes} nodes")
        names = [s.name for s in self.sensors]
        if len(set(names)) != len(names):
            raise ValueError(f"sensor names must be unique, got {names}")
        if not self.sensors:
            raise ValueError("a tank needs at least one temperature sensor")
        return self


class CoolantConfig(_Strict):
    loop_volume_l: float = Field(60.0, gt=0, description="Water in the primary loop, pipes and miners.")
    ua_w_per_k: float = Field(5.0, ge=0, description="Heat loss of the loop's pipes to the plant room.")
    min_inlet_c: float | None = Field(
        None, description="A mixing valve keeps the miners' inlet at least this warm; default the miners' minimum."
    )


class ExchangerConfig(_Strict):
    approach_k: float | None = Field(3.0, gt=0, description="Size the UA for this approach at full miner power.")
    ua_w_per_k: float | None = Field(None, gt=0, description="Or give the UA directly.")

    @model_validator(mode="after")
    def _one(self) -> ExchangerConfig:
        if self.ua_w_per_k is None and self.approach_k is None:
            raise ValueError("give either approach_k or ua_w_per_k")
        return self


class ChargingConfig(_Strict):
    tank: str | None = Field(None, description="Tank the miners charge; default the first one.")
    inlet: Literal["stratified", "top"] = "stratified"
    flow: Literal["balanced"] | float = Field(
        "balanced", description="'balanced' matches the coolant flow, or a fixed secondary flow in L/min."
    )


class GasBoilerConfig(_Strict):
    output_kw: float = Field(120.0, gt=0, le=5000)
    efficiency_pci: float = Field(0.92, gt=0.3, le=1.1)
    min_run_s: float = Field(300.0, ge=0)
    min_off_s: float = Field(300.0, ge=0)
    hysteresis_k: float = Field(2.0, gt=0, le=20)
    min_modulation: float = Field(0.2, gt=0, le=1, description="Lowest firing rate as a share of full output.")
    modulation_band_k: float = Field(4.0, gt=0, description="Below setpoint by this much, it fires at full rate.")
    max_flow_c: float = Field(85.0, description="Highest water temperature the boiler heats to.")
    tank: str | None = Field(None, description="Tank with the gas coil; default the last (finishing) tank.")


class DryCoolerConfig(_Strict):
    capacity_kw: float = Field(gt=0, description="Heat it can reject at design conditions.")
    air_c: float = Field(15.0)
    design_delta_k: float = Field(25.0, gt=0, description="Coolant − air at which it rejects its capacity.")


class LoopConfig(_Strict):
    loss_w: float = Field(1500.0, ge=0, description="Heat lost at the design supply temperature.")
    design_supply_c: float = 60.0
    drop_k: float = Field(4.0, gt=0, description="Supply − return at design conditions.")
    ambient_c: float | None = Field(None, description="Around the pipes; default the plant room.")
    return_height: float | Literal["stratified"] = Field(
        "stratified", description="Where the return enters the finishing tank (fraction of height)."
    )


class SeasonalMainsConfig(_Strict):
    type: Literal["seasonal"] = "seasonal"
    mean_c: float = 15.0
    amplitude_k: float = Field(6.0, ge=0)
    coldest_day: int = Field(46, ge=1, le=366)


class ConstantMainsConfig(_Strict):
    type: Literal["constant"] = "constant"
    temp_c: float = 10.0


MainsConfig = Annotated[SeasonalMainsConfig | ConstantMainsConfig, Field(discriminator="type")]


class StochasticDrawsConfig(_Strict):
    type: Literal["stochastic"] = "stochastic"
    flats: dict[str, int] = Field(default_factory=lambda: {"T1": 8, "T2": 12, "T3": 16, "T4": 8, "T5": 4})
    litres_per_standard_flat_day: float = Field(70.0, gt=0, description="At 60 °C.")
    weekend_factor: float = Field(1.2, gt=0)
    seasonal_amplitude: float = Field(0.10, ge=0, lt=1)
    shape: Literal["building", "household"] = "building"


class TappingCycleDrawsConfig(_Strict):
    type: Literal["eu"] = "eu"
    profile: Literal["M", "L", "XL", "XXL", "3XL", "4XL"] = "XL"
    scale: float = Field(1.0, gt=0, description="Multiply every draw (e.g. 2 for two 4XL systems).")


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
        0.5, ge=0, description="Keep the miners' inlet this far below where they start to throttle."
    )
    smoothing_s: float = Field(900.0, ge=0, description="Time constant smoothing the tank-base reading.")
    wake_after_s: float = Field(900.0, ge=0, description="Room for the miners must last this long to wake them.")
    gas_margin_k: float = Field(2.0, ge=0, description="Gas keeps the outlet zone this far above the setpoint.")
    peak_boost_k: float = Field(1.0, ge=0, description="Extra gas setpoint during the peak hours below.")
    cold_boost_k: float = Field(
        8.0, ge=0, description="Extra gas setpoint when the store's base is at mains temperature (scaled down "
        "to 0 at half-way to the setpoint)."
    )
    peak_hours: list[tuple[time, time]] = Field(
        default_factory=lambda: [(time(6, 30), time(9, 0)), (time(18, 0), time(22, 0))]
    )
    reserve_volume_l: float = Field(
        400.0, ge=0, description="Hot water (≥ setpoint) the finishing tank should hold; below it gas boosts."
    )
    power_step_w: float = Field(250.0, gt=0, description="Fleet power targets are rounded to this step.")
    wake_margin_w: float = Field(2000.0, ge=0, description="Headroom needed above the minimum to wake miners.")
    up_hysteresis_w: float = Field(1500.0, ge=0, description="Raise the fleet target only past this margin.")
    down_hysteresis_w: float = Field(1000.0, ge=0, description="Cut the fleet target once this far too high.")


class ThermostatConfig(_Strict):
    sensor: str = Field("middle", description="Tank sensor the thermostat reads.")
    miners_on_below_c: float = 50.0
    miners_off_above_c: float = 55.0
    gas_on_below_c: float = 57.0
    gas_off_above_c: float = 62.0


# -- predictive control and the perfect-foresight bound (task G; docs/control.md) ------------------
class OptimumConfig(_Strict):
    """`--strategy optimum`: the perfect-foresight LP, a yardstick for benchmarks."""

    slot_s: float = Field(3600.0, ge=60, le=86_400, description="LP time slot (finer = tighter bound, slower).")
    time_limit_s: float | None = Field(None, gt=0, description="Give up solving after this long.")
    co2_eur_per_kg: float = Field(0.0, ge=0, description="CO₂ price added to the LP's objective.")


class MpcConfig(_Strict):
    """`mpc`: receding-horizon LP on forecasts learned from the plant's own history."""

    horizon_h: float = Field(36.0, ge=2, le=96, description="How far ahead each plan looks.")
    slot_s: float = Field(3600.0, ge=300, le=7200, description="Plan resolution beyond the first slots.")
    fine_slots: int = Field(4, ge=1, le=24, description="Leading slots of one replan period each.")
    replan_s: float = Field(3600.0, ge=60, le=7200, description="Re-solve this often; follow the plan between.")
    time_limit_s: float = Field(2.0, gt=0, le=60, description="Solver time limit; past it, fall back to rule.")
    draw_margin: float = Field(0.05, ge=0, le=2, description="Forecast draws are raised by this share.")
    outlet_margin_k: float = Field(2.0, ge=0, le=10, description="Outlet above the setpoint the plan expects.")
    gas_margin_k: float = Field(0.0, ge=-2, le=10, description="Gas aquastat this far above setpoint + hysteresis.")
    peak_boost_k: float = Field(1.0, ge=0, le=10, description="Extra gas setpoint before a forecast peak hour.")
    cold_boost_k: float = Field(
        8.0, ge=0, le=20, description="Extra gas setpoint when the pre-heat volume is as cold as the mains."
    )
    peak_factor: float = Field(1.5, ge=1, le=10, description="A peak hour draws this many times the mean hour.")
    change_min_w: float = Field(1000.0, ge=0, description="Move the fleet target only by at least this much.")
    stratification_k: float = Field(
        8.0, ge=0, le=30, description="The plan takes the store's base this far below its pre-heat mean."
    )
    forecast_days: int = Field(28, ge=1, le=365, description="History the draw forecast keeps (days).")
    learn_h: float = Field(
        1.0, ge=0.25, le=168, description="History the forecast needs before the plan decides (rule until then)."
    )
    co2_eur_per_kg: float = Field(0.0, ge=0, description="CO₂ price added to the plan's objective.")
    change_eur_per_kw: float = Field(
        0.05, ge=0, le=10, description="Plan cost of each kW the fleet's power moves between slots (steady power)."
    )
    smooth_h: float = Field(
        6.0, ge=0, le=48, description="Follow the plan's mean fleet power over this many hours ahead (0: its slot)."
    )
    sized_boost: bool = Field(
        False, description="Gas boost sized to the next hour's largest forecast draw (else peak/cold/reserve boosts)."
    )
    absorb_cap: bool = Field(
        False, description="Cap the fleet by what the store absorbs now (else the miners' own inlet throttle does)."
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
    max_tank_c: float = Field(80.0, description="Above this anywhere in a tank, charging stops.")
    safe_miner_power_w: float = Field(0.0, ge=0, description="Fleet power in the safe state (0 = asleep).")
    sensor_fault_ticks: int = Field(2, ge=1, description="Consecutive bad readings before the safe state.")
    legionella_window: tuple[time, time] = (time(2, 0), time(5, 0))
    legionella_target_c: float = Field(66.0, description="Whole-store temperature aimed for during a cycle.")
    allocation: AllocationPolicy = Field(default_factory=AllocationPolicy)
    rule: RuleStrategyConfig = Field(default_factory=RuleStrategyConfig)
    thermostat: ThermostatConfig = Field(default_factory=ThermostatConfig)
    mpc: MpcConfig = Field(default_factory=MpcConfig)  # task G
    optimum: OptimumConfig = Field(default_factory=OptimumConfig)  # task G

    @field_validator("strategy", mode="before")
    @classmethod
    def _name_alone(cls, v: Any) -> Any:
        return {"type": v} if isinstance(v, str) else v

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
    step_s: float = Field(120.0, gt=0, le=600, description="Physics time step of the simulator.")


class PlantConfig(_Strict):
    """A whole site. Tanks are listed in flow order: cold water enters the first, the last feeds the taps."""

    description: str = ""
    site: SiteConfig = Field(default_factory=SiteConfig)
    tanks: list[TankConfig] = Field(min_length=1)
    charging: ChargingConfig = Field(default_factory=ChargingConfig)
    miners: list[MinerConfig] = Field(default_factory=list)
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
        if len(set(names)) != len(names):
            raise ValueError(f"tank names must be unique, got {names}")
        for ref, what in ((self.charging.tank, "charging.tank"),
                          (self.gas_boiler.tank if self.gas_boiler else None, "gas_boiler.tank")):
            if ref is not None and ref not in names:
                raise ValueError(f"{what} = {ref!r} is not a tank; tanks are {names}")
        miner_names = [m.name for m in self.miners]
        if len(set(miner_names)) != len(miner_names):
            raise ValueError(f"miner names must be unique, got {miner_names}")
        for m in self.miners:
            if m.model not in CATALOGUE:
                raise ValueError(f"miner {m.name!r}: unknown model {m.model!r}; known: {sorted(CATALOGUE)}")
        if self.gas_boiler is not None and self.gas_tank.gas_coil is None:
            raise ValueError(f"tank {self.gas_tank.name!r} has the gas boiler but no gas_coil zone")
        if self.control.strategy_name == "thermostat":
            sensor = self.control.thermostat.sensor
            if sensor not in {s.name for s in self.charge_tank.sensors}:
                raise ValueError(f"control.thermostat.sensor {sensor!r} is not a sensor of {self.charge_tank.name!r}")
        return self

    @property
    def charge_tank(self) -> TankConfig:
        name = self.charging.tank
        return next(t for t in self.tanks if t.name == name) if name else self.tanks[0]

    @property
    def gas_tank(self) -> TankConfig:
        name = self.gas_boiler.tank if self.gas_boiler else None
        return next(t for t in self.tanks if t.name == name) if name else self.tanks[-1]

    @property
    def finishing_tank(self) -> TankConfig:
        return self.tanks[-1]


class ConfigError(Exception):
    """A config file that cannot be used; the message is meant for the installer."""


def format_validation_error(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: {exc.error_count()} problem(s) in the configuration:"]
    for err in exc.errors(include_url=False):
        path = ".".join(str(p) for p in err["loc"]) or "(top level)"
        value = err.get("input")
        shown = json.dumps(value, default=str) if not isinstance(value, dict) else "{…}"
        if len(shown) > 80:
            shown = shown[:77] + "..."
        msg = err["msg"].removeprefix("Value error, ")
        allowed = ""
        ctx = err.get("ctx") or {}
        if "expected" in ctx:
            allowed = f" (allowed: {ctx['expected']})"
        lines.append(f"  {path}: {msg}{allowed}; got {shown}")
    return "\n".join(lines)


def parse_config(data: Any, source: str = "config") -> PlantConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections, got {type(data).__name__}")
    try:
        return PlantConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from exc


def load_config(path: Path) -> PlantConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the file: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from exc
    cfg = parse_config(data, str(path))
    draws = cfg.draws
    if isinstance(draws, CsvDrawsConfig) and not draws.path.is_absolute():
        cfg.draws = draws.model_copy(update={"path": path.parent / draws.path})
    return cfg


def config_json_schema() -> dict[str, Any]:
    return PlantConfig.model_json_schema()
