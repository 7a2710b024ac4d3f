"""Seeded stochastic hot-water draws for a multi-dwelling building, in the DHWcalc style.

Method (Jordan & Vajen, DHWcalc; parameters from reference/domain.md §1.2):
- The building's mean daily volume (litres at 60 °C) is the number of *standard flats*
  (flats × GRDF size factor) times the litres per standard flat per day.
- Each day's expected volume is modulated by the day type (weekends × `weekend_factor`, both
  factors normalised so the weekly mean is 1) and a seasonal cosine (mean 1 over a year,
  maximum on `seasonal_peak_day`).
- The volume is split into draw categories by share. Each category's draws have a fixed duration
  and a flow from a normal distribution truncated to [1 l/h, 1200 l/h]; the number of draws is
  the expected volume over the *truncated* mean volume per draw, rounded up or down at random
  so that it is right on average (so shares and the yearly mean hold exactly in expectation).
- Start times follow a daily shape (per-minute probability). By default that is the COSTIC
  hourly building shape, diversified over many flats; DHWcalc's single-household step functions
  are available as shape "household".
- Busy spells: real buildings have evenings when many flats draw at once. The shape is
  multiplied per `burst_block_s` block by a random factor (gamma, mean 1, coefficient of
  variation `burst_cv`); this moves draws in time within a day but never changes the day's
  volume. The default is tuned so the 10-minute peak of 48 flats reaches the COSTIC design
  value V10 = 61·n^0.503 ≈ 430 L at 60 °C on busy evenings.

Use temperatures (what the user mixes each category to, a choice of this module): hand wash
35 °C, kitchen 45 °C, bath and shower 40 °C.

Each day has its own random stream, seeded by (seed, date), so the draws of a date do not depend
on the window asked for: `draws(d0, 365)` and `draws(d0 + 10 days, 7)` agree on their common days.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from scipy.special import ndtr, ndtri

from tank.draws import DrawProfileError, DrawTable, TableProfile, spread_quantity, steps_in
from tank.mains import YEAR_DAYS, MainsModel
from tank.water import HEAT_CAPACITY_J_PER_L_K, J_PER_KWH, S_PER_DAY

#: Temperature the profile's volumes refer to.
VOLUME_TEMP_C = 60.0
MINUTES_PER_DAY = 1440

#: GRDF Cegibat multipliers for social housing (standard flat = T3 = 1.0).
GRDF_SOCIAL_SIZE_FACTORS: dict[str, float] = {
    "T1": 0.6, "T2": 0.7, "T3": 1.0, "T4": 1.4, "T5": 1.8, "T6": 1.9,
}


@dataclass(frozen=True, slots=True)
class DrawCategory:
    """One kind of draw. Flows are of water at 60 °C; the normal law is truncated to the limits."""

    name: str
    share: float
    mean_flow_lpm: float
    sigma_flow_lpm: float
    duration_s: float
    use_temp_c: float
    min_flow_lpm: float = 1.0 / 60.0
    max_flow_lpm: float = 20.0

    def _bounds(self) -> tuple[float, float]:
        if self.sigma_flow_lpm == 0:
            return -math.inf, math.inf
        return (
            (self.min_flow_lpm - self.mean_flow_lpm) / self.sigma_flow_lpm,
            (self.max_flow_lpm - self.mean_flow_lpm) / self.sigma_flow_lpm,
        )

    @property
    def truncated_mean_flow_lpm(self) -> float:
        """Mean of the flow actually drawn (the normal law cut to [min, max])."""
        if self.sigma_flow_lpm == 0:
            return min(max(self.mean_flow_lpm, self.min_flow_lpm), self.max_flow_lpm)
        a, b = self._bounds()
        pdf = (math.exp(-a * a / 2) - math.exp(-b * b / 2)) / math.sqrt(2 * math.pi)
        return self.mean_flow_lpm + self.sigma_flow_lpm * pdf / (ndtr(b) - ndtr(a))

    @property
    def mean_volume_l(self) -> float:
        return self.truncated_mean_flow_lpm * self.duration_s / 60.0


#: DHWcalc's four categories (mean flow 60/360/840/480 l/h, σ 120/120/12/24 l/h, 1/1/10/5 min,
#: 14/36/10/40 % of the volume; flows limited to 1–1200 l/h), with this module's use temperatures.
DHWCALC_CATEGORIES: tuple[DrawCategory, ...] = (
    DrawCategory("hand wash", 0.14, 1.0, 2.0, 60.0, 35.0),
    DrawCategory("kitchen", 0.36, 6.0, 2.0, 60.0, 45.0),
    DrawCategory("bath", 0.10, 14.0, 0.2, 600.0, 40.0),
    DrawCategory("shower", 0.40, 8.0, 0.4, 300.0, 40.0),
)


@dataclass(frozen=True, slots=True)
class DailyShape:
    """Probability of a draw starting in each minute of the day, per day type (sums to 1)."""

    weekday: np.ndarray
    saturday: np.ndarray
    sunday: np.ndarray

    def __post_init__(self) -> None:
        for name in ("weekday", "saturday", "sunday"):
            w = np.asarray(getattr(self, name), dtype=float)
            if w.shape != (MINUTES_PER_DAY,) or (w < 0).any() or w.sum() <= 0:
                raise DrawProfileError(f"daily shape {name}: need {MINUTES_PER_DAY} weights ≥ 0, not all 0")
            object.__setattr__(self, name, w / w.sum())

    @classmethod
    def from_hourly(
        cls, weekday: Sequence[float], saturday: Sequence[float], sunday: Sequence[float]
    ) -> DailyShape:
        """From 24 hourly weights per day type (uniform within each hour)."""
        return cls(*(np.repeat(np.asarray(h, dtype=float), 60) for h in (weekday, saturday, sunday)))

    @classmethod
    def from_periods(
        cls,
        weekday: Sequence[tuple[str, str, float]],
        weekend: Sequence[tuple[str, str, float]],
    ) -> DailyShape:
        """From ("HH:MM", "HH:MM", share) periods, uniform within each; may wrap past midnight."""
        we = _periods_to_minutes(weekend)
        return cls(_periods_to_minutes(weekday), we, we.copy())

    def for_day(self, day: date) -> np.ndarray:
        wd = day.weekday()
        return self.weekday if wd < 5 else self.saturday if wd == 5 else self.sunday


def _minute(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _periods_to_minutes(periods: Sequence[tuple[str, str, float]]) -> np.ndarray:
    weights = np.zeros(MINUTES_PER_DAY)
    for begin, end, share in periods:
        a, b = _minute(begin), _minute(end)
        minutes = np.arange(a, b if b > a else b + MINUTES_PER_DAY) % MINUTES_PER_DAY
        weights[minutes] += share / minutes.size
    return weights


#: COSTIC hourly time-modulation coefficients for collective housing (each day type sums to 24),
#: as transcribed in BuildingEnergySimulationTools/corrai, corrai/tsgenerator.py
#: (`coefficients_COSTIC`); busiest weekday hours 07–08 (8.6 %) and 20–21 (9.3 %).
BUILDING_SHAPE = DailyShape.from_hourly(
    weekday=[0.264, 0.096, 0.048, 0.024, 0.144, 0.384, 1.152, 2.064, 1.176, 1.08, 1.248, 1.224,
             1.296, 1.104, 0.84, 0.768, 0.768, 1.104, 1.632, 2.088, 2.232, 1.608, 1.032, 0.624],
    saturday=[0.408, 0.192, 0.072, 0.048, 0.072, 0.168, 0.312, 0.624, 1.08, 1.584, 1.872, 1.992,
              1.92, 1.704, 1.536, 1.2, 1.248, 1.128, 1.296, 1.32, 1.392, 1.2, 0.936, 0.696],
    sunday=[0.384, 0.168, 0.096, 0.048, 0.048, 0.048, 0.12, 0.216, 0.576, 1.128, 1.536, 1.752,
            1.896, 1.872, 1.656, 1.296, 1.272, 1.248, 1.776, 2.016, 2.04, 1.392, 0.864, 0.552],
)

#: DHWcalc's single-household step functions (share of the day's volume per period).
HOUSEHOLD_SHAPE = DailyShape.from_periods(
    weekday=[("22:00", "06:30", 0.02), ("06:30", "07:30", 0.50), ("07:30", "12:00", 0.06),
             ("12:00", "13:00", 0.16), ("13:00", "18:00", 0.06), ("18:00", "22:00", 0.20)],
    weekend=[("23:00", "07:00", 0.038), ("07:00", "09:00", 0.475), ("09:00", "15:00", 0.071),
             ("15:00", "17:00", 0.238), ("17:00", "20:00", 0.036), ("20:00", "23:00", 0.143)],
)

SHAPES: dict[str, DailyShape] = {"building": BUILDING_SHAPE, "household": HOUSEHOLD_SHAPE}


@dataclass(frozen=True, slots=True)
class GeneratedDraws:
    """A window of stochastic draws with the volumes (litres at 60 °C) behind their heat."""

    table: DrawTable
    volume_l: np.ndarray


class StochasticProfile(TableProfile):
    """DHWcalc-style draws for a building of `flats` ({"T3": 16, ...}); see the module doc."""

    def __init__(
        self,
        flats: Mapping[str, int],
        *,
        mains: MainsModel,
        seed: int,
        litres_per_standard_flat_day: float = 70.0,
        size_factors: Mapping[str, float] = GRDF_SOCIAL_SIZE_FACTORS,
        weekend_factor: float = 1.2,
        seasonal_amplitude: float = 0.10,
        seasonal_peak_day: float = 45.0,
        categories: Sequence[DrawCategory] = DHWCALC_CATEGORIES,
        shape: str | DailyShape = "building",
        burst_cv: float = 1.0,
        burst_block_s: float = 900.0,
    ) -> None:
        unknown = sorted(set(flats) - set(size_factors))
        if unknown:
            raise DrawProfileError(f"unknown flat types {unknown}; known: {sorted(size_factors)}")
        if any(n < 0 for n in flats.values()) or sum(flats.values()) == 0:
            raise DrawProfileError(f"flats must be counts ≥ 0, not all zero: {dict(flats)}")
        if isinstance(shape, str):
            if shape not in SHAPES:
                raise DrawProfileError(f"unknown daily shape {shape!r}; valid: {', '.join(SHAPES)}")
            shape = SHAPES[shape]
        shares = np.array([c.share for c in categories])
        if not categories or (shares < 0).any() or abs(shares.sum() - 1.0) > 1e-9:
            raise DrawProfileError(f"category shares must be ≥ 0 and sum to 1, got {shares.tolist()}")
        block_min = burst_block_s / 60.0
        if burst_cv < 0 or block_min < 1 or block_min % 1 or MINUTES_PER_DAY % block_min:
            raise DrawProfileError("burst_cv must be ≥ 0 and burst_block_s a whole number of minutes "
                                   f"dividing a day, got {burst_cv}, {burst_block_s}")
        if seed < 0 or litres_per_standard_flat_day <= 0 or weekend_factor <= 0:
            raise DrawProfileError("seed must be ≥ 0, litres and weekend factor > 0")
        if not 0 <= seasonal_amplitude < 1:
            raise DrawProfileError(f"seasonal_amplitude must be in [0, 1), got {seasonal_amplitude}")

        self.flats = dict(flats)
        self.mains = mains
        self.seed = int(seed)
        self.standard_flats = sum(n * size_factors[t] for t, n in flats.items())
        self.mean_daily_volume_l = self.standard_flats * litres_per_standard_flat_day
        self.weekday_factor = 7.0 / (5.0 + 2.0 * weekend_factor)
        self.weekend_factor = weekend_factor * self.weekday_factor
        self.seasonal_amplitude = seasonal_amplitude
        self.seasonal_peak_day = seasonal_peak_day
        self.categories = tuple(categories)
        self.shape = shape
        self.burst_cv = burst_cv
        self._block_min = int(block_min)
        self._shares = shares
        self._mean_volume_l = np.array([c.mean_volume_l for c in categories])
        self._duration_s = np.array([c.duration_s for c in categories])
        self._use_temp_c = np.array([c.use_temp_c for c in categories])
        self._names = np.array([c.name for c in categories], dtype=object)
        mu = np.array([c.mean_flow_lpm for c in categories])
        sigma = np.array([c.sigma_flow_lpm for c in categories])
        lo = np.array([c.min_flow_lpm for c in categories])
        hi = np.array([c.max_flow_lpm for c in categories])
        safe_sigma = np.where(sigma > 0, sigma, 1.0)
        self._flow = (mu, sigma, lo, hi, ndtr((lo - mu) / safe_sigma), ndtr((hi - mu) / safe_sigma))

    def __repr__(self) -> str:
        return f"StochasticProfile({self.flats!r}, seed={self.seed}, {self.mean_daily_volume_l:.0f} L/day)"

    def expected_volume_l(self, day: date) -> float:
        """Expected volume (litres at 60 °C) of a day: mean × day type × season."""
        week = self.weekend_factor if day.weekday() >= 5 else self.weekday_factor
        phase = 2.0 * math.pi * (day.timetuple().tm_yday - self.seasonal_peak_day) / YEAR_DAYS
        return self.mean_daily_volume_l * week * (1.0 + self.seasonal_amplitude * math.cos(phase))

    def generate(self, start: date, days: int) -> GeneratedDraws:
        parts = [self._day(start + timedelta(days=i), i * S_PER_DAY) for i in range(days)]
        if not parts:
            return GeneratedDraws(DrawTable.empty(), np.zeros(0))
        columns = (np.concatenate(col) for col in zip(*parts, strict=True))
        start_s, duration_s, volume_l, cat, heat_kwh = columns
        table = DrawTable(start_s, duration_s, heat_kwh, self._use_temp_c[cat], self._names[cat])
        return GeneratedDraws(table, volume_l)

    def table(self, start: date, days: int) -> DrawTable:
        return self.generate(start, days).table

    def volume_steps_l(self, start: date, days: int, step_s: float) -> np.ndarray:
        """Litres at 60 °C drawn in each step (for peak statistics)."""
        g = self.generate(start, days)
        n_steps = steps_in(days, step_s)
        return spread_quantity(g.table.start_s, g.table.duration_s, g.volume_l, n_steps, step_s)

    def _day(self, day: date, offset_s: float) -> tuple[np.ndarray, ...]:
        rng = np.random.default_rng([self.seed, day.toordinal()])
        expected = self.expected_volume_l(day) * self._shares / self._mean_volume_l
        counts = np.floor(expected + rng.random(expected.size)).astype(np.int64)
        total = int(counts.sum())
        density = self.shape.for_day(day)
        if self.burst_cv > 0:
            k = 1.0 / self.burst_cv**2
            busy = rng.gamma(k, 1.0 / k, MINUTES_PER_DAY // self._block_min)
            density = density * np.repeat(busy, self._block_min)
        cdf = np.cumsum(density)
        minute = np.searchsorted(cdf, rng.random(total) * cdf[-1], side="right")
        minute = np.minimum(minute, MINUTES_PER_DAY - 1)
        start_s = (minute + rng.random(total)) * 60.0
        cat = np.repeat(np.arange(counts.size), counts)
        flow_lpm = self._sample_flows(rng, cat)
        order = np.argsort(start_s, kind="stable")
        start_s, cat, flow_lpm = start_s[order], cat[order], flow_lpm[order]
        duration_s = self._duration_s[cat]
        volume_l = flow_lpm * duration_s / 60.0
        doy = day.timetuple().tm_yday + start_s / S_PER_DAY
        lift_k = np.maximum(VOLUME_TEMP_C - np.asarray(self.mains.temp_c(doy)), 0.0)
        heat_kwh = volume_l * HEAT_CAPACITY_J_PER_L_K * lift_k / J_PER_KWH
        return start_s + offset_s, duration_s, volume_l, cat, heat_kwh

    def _sample_flows(self, rng: np.random.Generator, cat: np.ndarray) -> np.ndarray:
        """Truncated normal by inverting the CDF between the limits' probabilities."""
        mu, sigma, lo, hi, p_lo, p_hi = (a[cat] for a in self._flow)
        u = np.clip(rng.random(cat.size), 1e-12, 1.0 - 1e-12)
        z = ndtri(p_lo + u * (p_hi - p_lo))
        return np.clip(mu + sigma * z, lo, hi)
