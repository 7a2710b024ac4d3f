"""Counter-flow plate heat exchanger, ε-NTU method."""

from __future__ import annotations

import math
from dataclasses import dataclass


def counterflow_effectiveness(ntu: float, c_ratio: float) -> float:
    """ε of a counter-flow exchanger for NTU = UA/C_min and Cr = C_min/C_max."""
    if ntu <= 0:
        return 0.0
    if c_ratio < 0 or c_ratio > 1:
        raise ValueError(f"capacity ratio must be within [0, 1], got {c_ratio}")
    if abs(1.0 - c_ratio) < 1e-9:
        return ntu / (1.0 + ntu)
    e = math.exp(-ntu * (1.0 - c_ratio))
    return (1.0 - e) / (1.0 - c_ratio * e)


@dataclass(frozen=True, slots=True)
class ExchangeResult:
    heat_w: float
    hot_out_c: float
    cold_out_c: float
    effectiveness: float


@dataclass(frozen=True, slots=True)
class PlateExchanger:
    ua_w_per_k: float

    def effectiveness(self, c_hot_w_per_k: float, c_cold_w_per_k: float) -> float:
        c_min = min(c_hot_w_per_k, c_cold_w_per_k)
        c_max = max(c_hot_w_per_k, c_cold_w_per_k)
        if c_min <= 0:
            return 0.0
        return counterflow_effectiveness(self.ua_w_per_k / c_min, c_min / c_max)

    def exchange(
        self, hot_in_c: float, c_hot_w_per_k: float, cold_in_c: float, c_cold_w_per_k: float
    ) -> ExchangeResult:
        """Steady-state heat from the hot stream to the cold one; equal on both sides."""
        eps = self.effectiveness(c_hot_w_per_k, c_cold_w_per_k)
        c_min = min(c_hot_w_per_k, c_cold_w_per_k)
        q = eps * c_min * (hot_in_c - cold_in_c) if c_min > 0 else 0.0
        hot_out = hot_in_c - q / c_hot_w_per_k if c_hot_w_per_k > 0 else hot_in_c
        cold_out = cold_in_c + q / c_cold_w_per_k if c_cold_w_per_k > 0 else cold_in_c
        return ExchangeResult(heat_w=q, hot_out_c=hot_out, cold_out_c=cold_out, effectiveness=eps)

    @staticmethod
    def sized_for_approach(heat_w: float, approach_k: float) -> PlateExchanger:
        """UA giving this approach (hot in − cold out) for balanced flows: approach = Q/UA."""
        if approach_k <= 0:
            raise ValueError("approach must be positive")
        return PlateExchanger(ua_w_per_k=heat_w / approach_k)
