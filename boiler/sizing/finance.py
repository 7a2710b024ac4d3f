"""Simple payback and net present value of a yearly saving against a capital outlay."""

from __future__ import annotations

import math


def simple_payback_years(capital_eur: float, savings_eur_per_year: float) -> float | None:
    """Years of savings that repay the capital; None when the candidate saves nothing (never pays back)."""
    if savings_eur_per_year <= 0:
        return None
    return capital_eur / savings_eur_per_year


def npv_eur(capital_eur: float, savings_eur_per_year: float, *, life_years: int, discount_rate: float,
            miners_eur: float = 0.0, miner_life_years: int | None = None) -> float:
    """Net present value: −capital now, the saving at the end of each year of the life, and the miners bought
    again at the start of each year their life runs out within it (`miner_life_years`), all discounted."""
    if life_years < 1 or discount_rate < 0 or not math.isfinite(savings_eur_per_year):
        raise ValueError(f"need life_years >= 1 and discount_rate >= 0, got {life_years}, {discount_rate}")
    value = -capital_eur
    for year in range(1, life_years + 1):
        value += savings_eur_per_year / (1.0 + discount_rate) ** year
    if miner_life_years:
        for year in range(miner_life_years, life_years, miner_life_years):
            value -= miners_eur / (1.0 + discount_rate) ** year
    return value
