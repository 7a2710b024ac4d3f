"""Catalogue of hydro (water-cooled) miner models: ratings, coolant window and firmware behaviour.

Every figure carries an evidence tag in `evidence` (legend of reference/domain.md: [V] verified,
[S] secondary source, [R] recollection to check, [D] design choice of this project). No
manufacturer datasheet has been read directly, so nothing here is [V]. Values marked [D] are
fixed for the built-in scenarios (reference/scenarios.md); change them only with a note there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Firmware = Literal["braiins", "whatsminer", "generic"]


@dataclass(frozen=True, slots=True)
class MinerSpec:
    """One miner model. Powers are electrical input at the wall; temperatures are coolant inlet."""

    key: str
    make: str
    model: str  # as the firmware reports it (pyasic keys its classes on the upper-cased string)
    firmware: Firmware  # protocol family the emulator speaks for this model
    nominal_power_w: float
    nominal_hashrate_ths: float
    min_power_w: float
    max_power_w: float
    coolant_flow_lpm: float
    inlet_min_c: float
    inlet_max_c: float
    throttle_start_c: float
    efficiency_ref_inlet_c: float
    hot_penalty_per_k: float
    heat_to_coolant: float
    restarts_on_limit_change: bool
    restart_delay_s: float
    wake_delay_s: float
    evidence: str
    # J/TH scales as (power/nominal)^exponent: lower chip voltage when underclocked. 0.3 gives
    # ≈ 20 % better J/TH at half power [D], in line with what autotuning firmware advertises [R].
    underclock_exponent: float = 0.3
    # The miner restarts only once the inlet is this far back inside its window [D].
    restart_hysteresis_k: float = 3.0
    # Draw while boards initialise (control board, PSU, pump electronics; hydro units have no fans) [D].
    starting_power_w: float = 80.0
    # Draw while asleep or stopped by the inlet guard (control board only) [D].
    standby_power_w: float = 15.0
    # pyasic 0.79.0 has a class for this model string (else it falls back to a generic class).
    pyasic_known: bool = True

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not 0 < self.min_power_w <= self.nominal_power_w <= self.max_power_w:
            problems.append("need 0 < min_power_w <= nominal_power_w <= max_power_w")
        if self.nominal_hashrate_ths <= 0 or self.coolant_flow_lpm <= 0:
            problems.append("nominal_hashrate_ths and coolant_flow_lpm must be positive")
        if not self.inlet_min_c < self.throttle_start_c <= self.inlet_max_c:
            problems.append("need inlet_min_c < throttle_start_c <= inlet_max_c")
        if not 0 <= 2 * self.restart_hysteresis_k < self.inlet_max_c - self.inlet_min_c:
            problems.append("restart_hysteresis_k must leave a restart band inside the inlet window")
        if not 0 < self.heat_to_coolant <= 1:
            problems.append("heat_to_coolant must be in (0, 1]")
        if self.hot_penalty_per_k < 0 or self.underclock_exponent < 0:
            problems.append("hot_penalty_per_k and underclock_exponent must be >= 0")
        if min(self.restart_delay_s, self.wake_delay_s, self.starting_power_w, self.standby_power_w) < 0:
            problems.append("delays and idle powers must be >= 0")
        if problems:
            raise ValueError(f"MinerSpec {self.key!r}: " + "; ".join(problems))

    @property
    def nominal_j_per_th(self) -> float:
        return self.nominal_power_w / self.nominal_hashrate_ths

    def throttle_cap_w(self, inlet_c: float) -> float:
        """The most the firmware lets the miner draw at this coolant inlet: full power up to `throttle_start_c`,
        down linearly to `min_power_w` at `inlet_max_c`, nothing above it (the miner stops)."""
        if inlet_c > self.inlet_max_c:
            return 0.0
        hot_k = inlet_c - self.throttle_start_c
        if hot_k <= 0.0 or self.inlet_max_c <= self.throttle_start_c:
            return self.max_power_w
        slope_w_per_k = (self.max_power_w - self.min_power_w) / (self.inlet_max_c - self.throttle_start_c)
        return self.max_power_w - slope_w_per_k * hot_k

    def j_per_th(self, power_w: float, inlet_c: float) -> float:
        """Energy per terahash at this power and coolant inlet.

        Nominal J/TH holds at nominal power and the reference inlet. Underclocking improves it
        (power law); an inlet above the reference worsens it linearly (leakage rises with chip
        temperature). A colder inlet gives no bonus: firmware regulates chip temperature. The
        curve is floored at `min_power_w`, below which the miner cannot hash.
        """
        ratio = max(power_w, self.min_power_w) / self.nominal_power_w
        hot_k = inlet_c - self.efficiency_ref_inlet_c
        penalty = 1.0 + self.hot_penalty_per_k * hot_k if hot_k > 0.0 else 1.0
        return self.nominal_power_w / self.nominal_hashrate_ths * ratio**self.underclock_exponent * penalty


# Shared evidence strings: one place for each source.
_BITMAIN_S21_COOLANT = (
    "[S] inlet 20-50 °C (firmware stops outside), flow 8.0-10.0 L/min, power rated at 35 °C inlet: "
    "Bitmain 'S21 Hyd / S21 XP Hyd Specification' pages as transcribed in "
    "robertfiesler-spec/Mining-Guardian miner_enrichment_master.csv (domain.md §4.1)"
)
_BRAIINS_RESTART = (
    "[S] restarts on limit change: pyasic SetPowerTarget uses SAVE_AND_FORCE_APPLY and users report "
    "a restart on every change (hass-miner #586; newer BOS REST power-target applies on the fly)"
)
_WHATSMINER_RESTART = (
    "[S] restarts on limit change: pyasic set_power_limit sends adjust_power_limit, whose docstring "
    "says the miner reboots (miner-protocols.md §2.1, §4.3 item 5)"
)
_MICROBT_COOLANT = (
    "[R] no MicroBT coolant specification found (domain.md §7 item 2): inlet window, flow and "
    "reference inlet are assumptions to check against the Whatsminer datasheet"
)
_COMMON = (
    "[R] heat to coolant 0.97 (95-98 %, domain.md §4.2); hot penalty per K from 'power rises with "
    "board temperature' (ydminer blog via domain.md §4.1), size [D]; delays [R]; throttle start [D]"
)


# Share of electrical input that reaches the coolant; the rest warms the plant room [R].
_HEAT_SHARE = 0.97

_SPECS: tuple[MinerSpec, ...] = (
    MinerSpec(
        key="s21-hyd", make="Bitmain", model="Antminer S21 Hyd.", firmware="braiins",
        nominal_power_w=5360.0, nominal_hashrate_ths=335.0, min_power_w=2500.0, max_power_w=5360.0,
        coolant_flow_lpm=9.0, inlet_min_c=20.0, inlet_max_c=50.0, throttle_start_c=46.0,
        heat_to_coolant=_HEAT_SHARE, efficiency_ref_inlet_c=35.0, hot_penalty_per_k=0.005,
        restarts_on_limit_change=True, restart_delay_s=120.0, wake_delay_s=180.0,
        evidence="; ".join((
            "[S] 335 TH/s, 5,360 W, 16 J/TH (Bitmain spec via Mining-Guardian, domain.md §4.1)",
            _BITMAIN_S21_COOLANT,
            "[D] BOS+ power target 2,500-5,360 W and 9 L/min (scenarios.md residence-48)",
            _BRAIINS_RESTART, _COMMON,
        )),
    ),
    MinerSpec(
        key="s21plus-hyd", make="Bitmain", model="Antminer S21+ Hyd.", firmware="braiins",
        nominal_power_w=4785.0, nominal_hashrate_ths=319.0, min_power_w=2400.0, max_power_w=4785.0,
        coolant_flow_lpm=9.0, inlet_min_c=20.0, inlet_max_c=50.0, throttle_start_c=46.0,
        heat_to_coolant=_HEAT_SHARE, efficiency_ref_inlet_c=35.0, hot_penalty_per_k=0.005,
        restarts_on_limit_change=True, restart_delay_s=120.0, wake_delay_s=180.0,
        evidence="; ".join((
            "[S] 319 TH/s, 4,785 W, 15 J/TH (domain.md §4.1; bins 335 and 358 TH exist)",
            _BITMAIN_S21_COOLANT,
            "[D] power range ≈ 50-100 % of nominal, 9 L/min",
            _BRAIINS_RESTART, _COMMON,
        )),
    ),
    MinerSpec(
        key="s21-xp-hyd", make="Bitmain", model="Antminer S21 XP Hyd.", firmware="braiins",
        nominal_power_w=5676.0, nominal_hashrate_ths=473.0, min_power_w=2800.0, max_power_w=5676.0,
        coolant_flow_lpm=9.0, inlet_min_c=20.0, inlet_max_c=50.0, throttle_start_c=46.0,
        heat_to_coolant=_HEAT_SHARE, efficiency_ref_inlet_c=35.0, hot_penalty_per_k=0.005,
        restarts_on_limit_change=True, restart_delay_s=120.0, wake_delay_s=180.0,
        pyasic_known=False,
        evidence="; ".join((
            "[S] 473 TH/s, 5,676 W, 12 J/TH, power rated at 35 °C inlet (domain.md §4.1)",
            _BITMAIN_S21_COOLANT,
            "[D] power range ≈ 50-100 % of nominal, 9 L/min; pyasic 0.79.0 has no S21 XP Hyd. class "
            "for any firmware (miner-protocols.md §1.3), so the braiins family here is an assumption",
            _BRAIINS_RESTART, _COMMON,
        )),
    ),
    MinerSpec(
        key="s19-xp-hyd", make="Bitmain", model="Antminer S19 XP Hyd.", firmware="braiins",
        nominal_power_w=5304.0, nominal_hashrate_ths=255.0, min_power_w=2650.0, max_power_w=5304.0,
        coolant_flow_lpm=8.0, inlet_min_c=20.0, inlet_max_c=40.0, throttle_start_c=37.0,
        heat_to_coolant=_HEAT_SHARE, efficiency_ref_inlet_c=30.0, hot_penalty_per_k=0.005,
        restarts_on_limit_change=True, restart_delay_s=120.0, wake_delay_s=180.0,
        evidence="; ".join((
            "[S] 255 TH/s, 5,304 W, 20.8 J/TH (domain.md §4.1)",
            "[S] S19-generation coolant: inlet 20-40 °C, 8 L/min ± 10 % (S19 Hydro spec page); no S19 XP "
            "Hyd coolant spec found, so the generation's figures are used",
            "[D] reference inlet 30 °C, power range ≈ 50-100 % of nominal; BOS+ class BOSMinerS19XPHydro",
            _BRAIINS_RESTART, _COMMON,
        )),
    ),
    MinerSpec(
        key="m53s-plus-plus", make="MicroBT", model="M53S++ VK10", firmware="whatsminer",
        nominal_power_w=7040.0, nominal_hashrate_ths=320.0, min_power_w=3500.0, max_power_w=7040.0,
        coolant_flow_lpm=10.0, inlet_min_c=20.0, inlet_max_c=45.0, throttle_start_c=41.0,
        heat_to_coolant=_HEAT_SHARE, efficiency_ref_inlet_c=35.0, hot_penalty_per_k=0.005,
        restarts_on_limit_change=True, restart_delay_s=300.0, wake_delay_s=180.0,
        evidence="; ".join((
            "[S] 320 TH/s, 7,040 W, 22 J/TH; sources conflict on M53-series power (domain.md §4.1)",
            _MICROBT_COOLANT,
            "[D] power range ≈ 50-100 % of nominal",
            _WHATSMINER_RESTART, _COMMON,
        )),
    ),
    MinerSpec(
        key="m63s-plus-plus", make="MicroBT", model="M63S++ VL20", firmware="whatsminer",
        nominal_power_w=7200.0, nominal_hashrate_ths=464.0, min_power_w=3600.0, max_power_w=7200.0,
        coolant_flow_lpm=10.0, inlet_min_c=20.0, inlet_max_c=45.0, throttle_start_c=41.0,
        heat_to_coolant=_HEAT_SHARE, efficiency_ref_inlet_c=35.0, hot_penalty_per_k=0.005,
        restarts_on_limit_change=True, restart_delay_s=300.0, wake_delay_s=180.0,
        evidence="; ".join((
            "[S] 464-478 TH/s at ~7,200 W, ~15.5 J/TH; the low bin is used (domain.md §4.1)",
            _MICROBT_COOLANT,
            "[D] power range ≈ 50-100 % of nominal; pyasic talks API v3 to this model (BTMinerV3)",
            "[R] restart on limit change assumed as for API v2 (set.miner.power_limit not checked)",
            _COMMON,
        )),
    ),
    MinerSpec(
        key="m64s-plus", make="MicroBT", model="M64S+", firmware="whatsminer",
        nominal_power_w=4010.0, nominal_hashrate_ths=236.0, min_power_w=2000.0, max_power_w=4010.0,
        coolant_flow_lpm=6.0, inlet_min_c=20.0, inlet_max_c=70.0, throttle_start_c=66.0,
        heat_to_coolant=_HEAT_SHARE, efficiency_ref_inlet_c=50.0, hot_penalty_per_k=0.004,
        restarts_on_limit_change=True, restart_delay_s=300.0, wake_delay_s=180.0,
        pyasic_known=False,
        evidence="; ".join((
            "[S] 236 TH/s, ~4,010 W, 17 J/TH, 2U single-phase heating unit, max outlet water 80 °C "
            "(domain.md §4.1)",
            "[D] 6 L/min and inlet up to 70 °C so the outlet stays ≤ 80 °C at full power; reference "
            "inlet 50 °C (built to run hot), hot penalty 0.4 %/K",
            "pyasic 0.79.0 knows M64S VL30 but not M64S+ (falls back to a generic class)",
            _WHATSMINER_RESTART, _COMMON,
        )),
    ),
    MinerSpec(
        key="ah3880", make="Auradine", model="AH3880", firmware="generic",
        nominal_power_w=8700.0, nominal_hashrate_ths=600.0, min_power_w=4000.0, max_power_w=8700.0,
        coolant_flow_lpm=12.0, inlet_min_c=10.0, inlet_max_c=60.0, throttle_start_c=56.0,
        heat_to_coolant=_HEAT_SHARE, efficiency_ref_inlet_c=40.0, hot_penalty_per_k=0.004,
        restarts_on_limit_change=False, restart_delay_s=0.0, wake_delay_s=180.0,
        pyasic_known=False,
        evidence="; ".join((
            "[S] Teraflux AH3880: 600 TH/s, ~8,700 W, ~14.5 J/TH, coolant 5-20 L/min, liquid 10-60 °C "
            "(Auradine Hardware Reference via Mining-Guardian AURADINE_API.md, domain.md §4.1)",
            "[D] power range 4-8.7 kW (scenarios.md residence-48-hot), 12 L/min, reference inlet 40 °C, "
            "hot penalty 0.4 %/K",
            "[R] no restart on limit change: Auradine sets a continuous custom power mode "
            "(miner-protocols.md §2.6), no restart reported",
            "firmware 'generic': Auradine is not an emulated family and pyasic 0.79.0 lacks AH3880",
            _COMMON,
        )),
    ),
    MinerSpec(
        key="generic-hydro-2kw", make="Generic", model="Generic Hydro 2kW", firmware="generic",
        nominal_power_w=2000.0, nominal_hashrate_ths=100.0, min_power_w=1000.0, max_power_w=2000.0,
        coolant_flow_lpm=4.0, inlet_min_c=10.0, inlet_max_c=55.0, throttle_start_c=51.0,
        heat_to_coolant=_HEAT_SHARE, efficiency_ref_inlet_c=40.0, hot_penalty_per_k=0.005,
        restarts_on_limit_change=False, restart_delay_s=0.0, wake_delay_s=120.0,
        pyasic_known=False,
        evidence="; ".join((
            "[D] a 1-2 kW class module at ≈ 20 J/TH for one family (scenarios.md house-xl); every "
            "figure is a design choice, not a product",
            _COMMON,
        )),
    ),
)

CATALOGUE: dict[str, MinerSpec] = {spec.key: spec for spec in _SPECS}


def get_spec(key: str) -> MinerSpec:
    """The catalogue entry for `key`; a KeyError names the valid keys."""
    try:
        return CATALOGUE[key]
    except KeyError:
        raise KeyError(f"unknown miner model {key!r}; valid keys: {', '.join(sorted(CATALOGUE))}") from None
