"""What the controller sees and what it decides.

The same types serve the simulator, the demo and the real plant: only the adapters that fill an
`Observation` and carry out `Commands` differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from miners.driver import MinerReading as DriverReading
from miners.driver import MiningState


@dataclass(frozen=True, slots=True)
class MinerReading:
    name: str
    available: bool
    state: str
    power_w: float
    hashrate_ths: float
    #: Current power limit; None when the miner sleeps.
    limit_w: float | None
    #: Coolant at the miner's inlet and outlet, where the firmware reports them (telemetry only).
    coolant_in_c: float | None = None
    coolant_out_c: float | None = None

    @staticmethod
    def from_driver(r: DriverReading) -> MinerReading:
        """What the controller needs of a fleet driver's reading; a stale one counts as unavailable."""
        asleep = r.state == MiningState.SLEEPING
        return MinerReading(
            name=r.name,
            available=r.available and not r.stale,
            state=str(r.state),
            power_w=r.power_w or 0.0,
            hashrate_ths=r.hashrate_ths or 0.0,
            limit_w=None if asleep else r.power_limit_w,
            coolant_in_c=r.coolant_in_c,
            coolant_out_c=r.coolant_out_c,
        )


@dataclass(frozen=True, slots=True)
class Observation:
    now_s: float
    #: Site-local minute of the day (0–1439) and weekday (Monday = 0): schedules live in local time.
    local_minute: int
    local_weekday: int
    #: Tank sensors by "tank.sensor"; None when the sensor is missing or implausible.
    sensors_c: Mapping[str, float | None]
    outlet_c: float | None
    loop_return_c: float | None
    #: Coolant at the miners' inlet (after the exchanger) and outlet.
    coolant_in_c: float | None
    coolant_out_c: float | None
    miners: tuple[MinerReading, ...]
    gas_firing: bool
    electricity_eur_per_kwh: float
    #: Net mining revenue per kWh of electricity at the fleet's nominal efficiency, for comparisons.
    hashprice_eur_per_ph_day: float
    cold_water_c: float
    #: The hygiene rules need a disinfection cycle (a daily raise) before the next daily window.
    legionella_due: bool = False
    #: When every store that needs cycles last met a criterion (epoch s; None if never seen).
    legionella_last_pass_s: float | None = None
    #: The hot-water heat meter: cumulative heat drawn at the taps above the mains (kWh) since the
    #: controller started, up to `now_s`; None while no meter reading exists. Strategies that learn a
    #: draw forecast (mpc) read it here, never through a side door.
    dhw_heat_meter_kwh: float | None = None

    @property
    def running_w(self) -> float:
        """What the miners with a power limit (awake) draw now (W)."""
        return sum(r.power_w for r in self.miners if r.limit_w is not None)


@dataclass(frozen=True, slots=True)
class Decision:
    """What a strategy wants for the next tick. `reason` is short and machine-readable."""

    miner_power_w: float
    charge_pump: bool
    gas_enable: bool
    gas_setpoint_c: float
    reason: str
    destratify: bool = False
    dump_heat: bool = False
    #: Skip the anti-chatter rules (safety cuts must act at once).
    force: bool = False
    #: With a controlled charging flow: the water the charging pump sends to the tank (°C); None: the
    #: site's configured target.
    charge_target_c: float | None = None
    #: Who made this decision when it is not the strategy the plant was configured with: "rule" for a
    #: fallback, "safety" or "override" for the layers around the strategy. None: the strategy itself.
    decided_by: str | None = None


@dataclass(frozen=True, slots=True)
class Commands:
    """Decision turned into per-device orders. Miner limits: W, or None to sleep; absent = unchanged."""

    miner_limits_w: Mapping[str, float | None]
    charge_pump: bool
    gas_enable: bool
    gas_setpoint_c: float
    destratify: bool
    dry_cooler: bool
    reason: str
    changed_miners: tuple[str, ...] = field(default=())
    #: With a controlled charging flow: the charging pump's target (°C); None without one.
    charge_target_c: float | None = None
