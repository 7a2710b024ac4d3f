"""Prices: electricity tariffs, gas, and the mining hashprice.

Hashprice (reference/domain.md §5.1): expected revenue of 1 PH/s for one day,
    hashprice = 1e15 · 86400 / (D · 2³²) · (R_subsidy + F_block) · P_BTC · (1 − f_pool)
with D the network difficulty, R the block subsidy (3.125 BTC since April 2024), F the mean fees
per block, P_BTC the bitcoin price and f_pool the pool fee.
"""

from __future__ import annotations

from datetime import time
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from boiler.schedule import in_any

SECONDS_PER_DAY = 86_400
HASHES_PER_DIFFICULTY = 2**32


def btc_per_ph_day(difficulty: float, subsidy_btc: float, fees_btc_per_block: float) -> float:
    """Expected BTC mined by 1 PH/s in a day, before the pool fee."""
    return 1e15 * SECONDS_PER_DAY / (difficulty * HASHES_PER_DIFFICULTY) * (subsidy_btc + fees_btc_per_block)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class FixedHashprice(_Strict):
    type: Literal["fixed"] = "fixed"
    eur_per_ph_day: float = Field(
        45.0, ge=0, le=100_000, description="Gross revenue of 1 PH/s for a day (EUR), before pool fee."
    )
    btc_price_eur: float = Field(80_000.0, gt=0, le=100_000_000, description="Only to convert revenue into BTC mined.")

    def gross_eur_per_ph_day(self) -> float:
        return self.eur_per_ph_day


class NetworkHashprice(_Strict):
    type: Literal["network"] = "network"
    difficulty: float = Field(gt=0, le=1e20, description="Network difficulty, e.g. 152e12.")
    block_subsidy_btc: float = Field(3.125, ge=0, le=50, description="BTC per block.")
    fees_btc_per_block: float = Field(0.03, ge=0, le=50, description="BTC per block.")
    btc_price_eur: float = Field(gt=0, le=100_000_000, description="EUR per BTC.")

    def gross_eur_per_ph_day(self) -> float:
        return btc_per_ph_day(self.difficulty, self.block_subsidy_btc, self.fees_btc_per_block) * self.btc_price_eur


Hashprice = Annotated[FixedHashprice | NetworkHashprice, Field(discriminator="type")]


class MiningEconomics(_Strict):
    hashprice: Hashprice = Field(default_factory=FixedHashprice)
    pool_fee: float = Field(0.02, ge=0, lt=1, description="Share of revenue the pool keeps.")

    def revenue_eur_per_th_s(self, seconds: float) -> float:
        """Net revenue of 1 TH/s hashing for `seconds`."""
        return self.hashprice.gross_eur_per_ph_day() * (1 - self.pool_fee) / 1000.0 * seconds / SECONDS_PER_DAY

    def btc_per_eur(self) -> float:
        return 1.0 / self.hashprice.btc_price_eur


class Tariff(Protocol):
    def eur_per_kwh(self, local_minute_of_day: int) -> float: ...


class FlatTariff(_Strict):
    type: Literal["flat"] = "flat"
    eur_per_kwh: float = Field(0.15, ge=0, le=10, description="EUR per kWh.")

    def price(self, local_minute_of_day: int) -> float:
        return self.eur_per_kwh


class TimeOfUseTariff(_Strict):
    """Two-rate tariff (French HP/HC shape): off-peak windows in site-local time."""

    type: Literal["time_of_use"] = "time_of_use"
    peak_eur_per_kwh: float = Field(0.17, ge=0, le=10, description="EUR per kWh.")
    offpeak_eur_per_kwh: float = Field(0.12, ge=0, le=10, description="EUR per kWh.")
    offpeak: list[tuple[time, time]] = Field(default_factory=lambda: [(time(22, 0), time(6, 0))])

    @model_validator(mode="after")
    def _windows_not_empty(self) -> TimeOfUseTariff:
        for start, end in self.offpeak:
            if start == end:
                raise ValueError(f"off-peak window {start}–{end} is empty")
        return self

    def is_offpeak(self, local_minute_of_day: int) -> bool:
        return in_any(local_minute_of_day, self.offpeak)

    def price(self, local_minute_of_day: int) -> float:
        return self.offpeak_eur_per_kwh if self.is_offpeak(local_minute_of_day) else self.peak_eur_per_kwh


ElectricityTariff = Annotated[FlatTariff | TimeOfUseTariff, Field(discriminator="type")]


class GasPrice(_Strict):
    eur_per_kwh_pcs: float = Field(0.09, ge=0, le=10, description="Gas is billed on the gross calorific value (PCS).")
    pcs_per_pci: float = Field(1.11, ge=1.0, le=1.2, description="Natural gas PCS/PCI ratio.")

    def eur_per_kwh_pci(self) -> float:
        return self.eur_per_kwh_pcs * self.pcs_per_pci


class Co2Factors(_Strict):
    gas_kg_per_kwh_pci: float = Field(0.227, ge=0, le=5, description="ADEME/DPE factor, combustion and upstream.")
    grid_kg_per_kwh: float = Field(0.057, ge=0, le=5, description="French average mix (Carbone 4).")
