"""Capital cost of a candidate: miners, store, exchanger and coolant loop, installation.

EVERY DEFAULT BELOW IS AN EXAMPLE, not a quote. They are orders of magnitude for a first ranking
(evidence [R], legend of reference/domain.md: recollection, to check), chosen so that the table and the
payback are not empty. A real study puts the installer's and the supplier's prices in the sizing
file's `capital:` section; `EXAMPLE_SOURCES` says where each default comes from and the CLI prints a
warning whenever an example figure is used.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from miners.catalogue import CATALOGUE

#: Where each example figure comes from. None of these was checked against a primary source.
EXAMPLE_SOURCES: dict[str, str] = {
    "miner_eur_per_ths": "[R] EXAMPLE: new hydro ASICs of the S21 Hyd class were listed by resellers in 2025 "
    "at roughly 12-20 USD per TH/s; 15 EUR per TH/s taken (S21 Hyd 335 TH/s ≈ 5,000 EUR). Not a quote.",
    "store_eur_per_l": "[R] EXAMPLE: enamelled or stainless DHW storage of 1,000-3,000 L, delivered, costs "
    "roughly 2-4 EUR per litre in catalogue prices; 3 EUR/L taken. Not a quote.",
    "store_fixed_eur": "[R] EXAMPLE: per-tank fittings, sensors, insulation jacket, valves: 1,500 EUR taken.",
    "exchanger_eur_per_kw": "[R] EXAMPLE: plate exchanger, primary pump, expansion, glycol-free coolant loop and "
    "pipework scale with miner power; 120 EUR per kW of miner power taken. Not a quote.",
    "installation_eur": "[R] EXAMPLE: design, plant-room works, electrical supply for the miners, network and "
    "commissioning of a collective site: 12,000 EUR taken. Not a quote.",
    "preheat_extra_eur": "[R] EXAMPLE: the pre-heat layout's extra piping and mixing valve, the finishing "
    "tank being priced as a store: 2,500 EUR taken.",
}


class CapitalCosts(BaseModel):
    """Prices of what a candidate installs, excluding VAT. Defaults are EXAMPLES (see `EXAMPLE_SOURCES`)."""

    model_config = ConfigDict(extra="forbid")

    miner_eur: dict[str, float] = Field(
        default_factory=dict, description="Price of one miner per catalogue model; else miner_eur_per_ths."
    )
    miner_eur_per_ths: float = Field(15.0, ge=0, description="EXAMPLE: price per TH/s of nominal hashrate.")
    store_eur_per_l: float = Field(3.0, ge=0, description="EXAMPLE: storage, per litre.")
    store_fixed_eur: float = Field(1500.0, ge=0, description="EXAMPLE: per tank.")
    exchanger_eur_per_kw: float = Field(120.0, ge=0, description="EXAMPLE: per kW of nominal miner power.")
    installation_eur: float = Field(12000.0, ge=0, description="EXAMPLE: fixed per site.")
    preheat_extra_eur: float = Field(2500.0, ge=0, description="EXAMPLE: extra for the pre-heat layout.")

    @field_validator("miner_eur")
    @classmethod
    def _known_models(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - set(CATALOGUE))
        if unknown:
            raise ValueError(f"unknown miner model(s) {unknown}; known: {', '.join(sorted(CATALOGUE))}")
        negative = {k: x for k, x in v.items() if x < 0}
        if negative:
            raise ValueError(f"prices must be >= 0, got {negative}")
        return v

    def examples_used(self) -> list[str]:
        """The figures left at their example default."""
        return [name for name in EXAMPLE_SOURCES if name not in self.model_fields_set]

    def miner_price_eur(self, model: str) -> float:
        if model in self.miner_eur:
            return self.miner_eur[model]
        return CATALOGUE[model].nominal_hashrate_ths * self.miner_eur_per_ths


@dataclass(frozen=True, slots=True)
class CapitalBreakdown:
    miners_eur: float
    storage_eur: float
    exchanger_eur: float
    installation_eur: float

    @property
    def total_eur(self) -> float:
        return self.miners_eur + self.storage_eur + self.exchanger_eur + self.installation_eur


def capital_of(costs: CapitalCosts, model: str, count: int, tank_volumes_l: list[float],
               layout: str) -> CapitalBreakdown:
    """What installing `count` miners of `model` with these tanks costs."""
    spec = CATALOGUE[model]
    storage = sum(costs.store_fixed_eur + costs.store_eur_per_l * v for v in tank_volumes_l)
    installation = costs.installation_eur + (costs.preheat_extra_eur if layout == "preheat" else 0.0)
    return CapitalBreakdown(
        miners_eur=count * costs.miner_price_eur(model),
        storage_eur=storage,
        exchanger_eur=costs.exchanger_eur_per_kw * count * spec.nominal_power_w / 1000.0,
        installation_eur=installation,
    )
