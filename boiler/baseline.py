"""The gas-only baseline: what the same hot water would have cost with the site's gas boiler alone.

For each ledger interval the counterfactual plant supplies the heat the real plant actually
delivered, with its gas boiler at its rated efficiency:

    baseline_heat_kwh      = dhw_heat_kwh + loop_losses_kwh + tank_losses_kwh
    baseline_gas_fuel_kwh  = baseline_heat_kwh / efficiency_pci           (PCI, as gas_fuel_kwh)
    baseline_gas_cost_eur  = baseline_gas_fuel_kwh · gas price per kWh PCI (billed on PCS)
    baseline_co2_kg        = baseline_gas_fuel_kwh · gas CO₂ factor per kWh PCI

and the ledger derives `savings_eur = baseline_gas_cost_eur − net_cost_eur` and
`co2_avoided_kg = baseline_co2_kg − co2_kg`.

What it leaves out (docs/ledger.md gives the figures measured against a real gas-only run):
- the gas-only plant's own store and loop temperatures: its tank and loop losses are those of
  the real plant, not of a store kept hot only in the gas coil's zone (a pre-heat tank left at
  mains temperature loses almost nothing);
- the change of energy stored in the tanks, which the formula counts as neither saved nor spent;
- burner cycling and part-load losses: the efficiency is one constant, as on the boiler's plate;
- the gas boiler's own electricity (fan, pump) and the real plant's charging pumps.

A site without a gas boiler is compared with a reference boiler of `GasBoilerConfig`'s default
efficiency (a condensing boiler, 0.92 on PCI).
"""

from __future__ import annotations

from dataclasses import dataclass

from boiler.config import GasBoilerConfig, PlantConfig


@dataclass(frozen=True, slots=True)
class BaselineFigures:
    """The gas-only counterfactual of one interval (or a sum of them)."""

    gas_fuel_kwh: float
    gas_cost_eur: float
    co2_kg: float


@dataclass(frozen=True, slots=True)
class GasBaseline:
    """The site's gas boiler and gas prices, as the counterfactual uses them."""

    efficiency_pci: float
    gas_eur_per_kwh_pci: float
    co2_kg_per_kwh_pci: float

    def __post_init__(self) -> None:
        if not self.efficiency_pci > 0:
            raise ValueError(f"gas boiler efficiency must be positive, got {self.efficiency_pci}")

    @classmethod
    def from_config(cls, cfg: PlantConfig) -> GasBaseline:
        boiler = cfg.gas_boiler or GasBoilerConfig()
        return cls(
            efficiency_pci=boiler.efficiency_pci,
            gas_eur_per_kwh_pci=cfg.prices.gas.eur_per_kwh_pci(),
            co2_kg_per_kwh_pci=cfg.co2.gas_kg_per_kwh_pci,
        )

    @staticmethod
    def heat_kwh(dhw_heat_kwh: float, loop_losses_kwh: float, tank_losses_kwh: float) -> float:
        """Heat the gas-only plant must supply: to the taps, the loop's and the stores' losses."""
        return dhw_heat_kwh + loop_losses_kwh + tank_losses_kwh

    def figures(self, dhw_heat_kwh: float, loop_losses_kwh: float, tank_losses_kwh: float) -> BaselineFigures:
        fuel_kwh = self.heat_kwh(dhw_heat_kwh, loop_losses_kwh, tank_losses_kwh) / self.efficiency_pci
        return BaselineFigures(
            gas_fuel_kwh=fuel_kwh,
            gas_cost_eur=fuel_kwh * self.gas_eur_per_kwh_pci,
            co2_kg=fuel_kwh * self.co2_kg_per_kwh_pci,
        )
