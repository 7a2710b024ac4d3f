"""EU 24-hour tapping cycles (load profiles) M, L, XL, XXL, 3XL and 4XL.

Source: Commission Regulation (EU) No 814/2013, Annex III, Table 1 (consolidated text of
2017-01-09), rows as transcribed in reference/domain.md §1.1 and re-read in the regulation text.
Each row: time, Qtap (useful energy, kWh), f (minimum useful flow, l/min), Tm (temperature from
which energy counts, °C), Tp (peak temperature to reach, °C, some rows only).

A row becomes a `Draw` asking for Qtap at the tap, mixed to Tp if the row has one, else to Tm.
Its duration is the time the regulation's flow f takes to carry Qtap from 10 °C cold water:
Qtap / (ρ·c_p·f·(use − 10)). `kind` is a label only: Tm 25 rows are "small", Tm 10 / Tp 40
"bath" (10:30 "floor cleaning"), Tm 10 / Tp 55 "dishwashing", Tm 40 "shower" (18:15 and 18:30
"cleaning").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

import numpy as np

from tank.draws import Draw, DrawProfileError, DrawTable, TableProfile
from tank.water import HEAT_CAPACITY_J_PER_L_K, J_PER_KWH, S_PER_DAY

#: Cold water temperature of the regulation's test conditions.
REGULATION_COLD_C = 10.0


@dataclass(frozen=True, slots=True)
class TappingRow:
    time: str
    qtap_kwh: float
    flow_lpm: float
    tm_c: float
    tp_c: float | None
    kind: str

    @property
    def start_s(self) -> float:
        hours, minutes = self.time.split(":")
        return int(hours) * 3600.0 + int(minutes) * 60.0

    @property
    def use_temp_c(self) -> float:
        return self.tp_c if self.tp_c is not None else self.tm_c

    @property
    def duration_s(self) -> float:
        w_per_k = HEAT_CAPACITY_J_PER_L_K * self.flow_lpm / 60.0
        return self.qtap_kwh * J_PER_KWH / (w_per_k * (self.use_temp_c - REGULATION_COLD_C))


def _rows(*rows: tuple[str, float, float, float, float | None, str]) -> tuple[TappingRow, ...]:
    return tuple(TappingRow(*r) for r in rows)


_S, _SH, _B, _FC, _DW, _CL = "small", "shower", "bath", "floor cleaning", "dishwashing", "cleaning"

TAPPING_CYCLES: dict[str, tuple[TappingRow, ...]] = {
    "M": _rows(
        ("07:00", 0.105, 3, 25, None, _S),
        ("07:05", 1.400, 6, 40, None, _SH),
        ("07:30", 0.105, 3, 25, None, _S),
        ("08:01", 0.105, 3, 25, None, _S),
        ("08:15", 0.105, 3, 25, None, _S),
        ("08:30", 0.105, 3, 25, None, _S),
        ("08:45", 0.105, 3, 25, None, _S),
        ("09:00", 0.105, 3, 25, None, _S),
        ("09:30", 0.105, 3, 25, None, _S),
        ("10:30", 0.105, 3, 10, 40, _FC),
        ("11:30", 0.105, 3, 25, None, _S),
        ("11:45", 0.105, 3, 25, None, _S),
        ("12:45", 0.315, 4, 10, 55, _DW),
        ("14:30", 0.105, 3, 25, None, _S),
        ("15:30", 0.105, 3, 25, None, _S),
        ("16:30", 0.105, 3, 25, None, _S),
        ("18:00", 0.105, 3, 25, None, _S),
        ("18:15", 0.105, 3, 40, None, _CL),
        ("18:30", 0.105, 3, 40, None, _CL),
        ("19:00", 0.105, 3, 25, None, _S),
        ("20:30", 0.735, 4, 10, 55, _DW),
        ("21:15", 0.105, 3, 25, None, _S),
        ("21:30", 1.400, 6, 40, None, _SH),
    ),
    "L": _rows(
        ("07:00", 0.105, 3, 25, None, _S),
        ("07:05", 1.400, 6, 40, None, _SH),
        ("07:30", 0.105, 3, 25, None, _S),
        ("07:45", 0.105, 3, 25, None, _S),
        ("08:05", 3.605, 10, 10, 40, _B),
        ("08:25", 0.105, 3, 25, None, _S),
        ("08:30", 0.105, 3, 25, None, _S),
        ("08:45", 0.105, 3, 25, None, _S),
        ("09:00", 0.105, 3, 25, None, _S),
        ("09:30", 0.105, 3, 25, None, _S),
        ("10:30", 0.105, 3, 10, 40, _FC),
        ("11:30", 0.105, 3, 25, None, _S),
        ("11:45", 0.105, 3, 25, None, _S),
        ("12:45", 0.315, 4, 10, 55, _DW),
        ("14:30", 0.105, 3, 25, None, _S),
        ("15:30", 0.105, 3, 25, None, _S),
        ("16:30", 0.105, 3, 25, None, _S),
        ("18:00", 0.105, 3, 25, None, _S),
        ("18:15", 0.105, 3, 40, None, _CL),
        ("18:30", 0.105, 3, 40, None, _CL),
        ("19:00", 0.105, 3, 25, None, _S),
        ("20:30", 0.735, 4, 10, 55, _DW),
        ("21:00", 3.605, 10, 10, 40, _B),
        ("21:30", 0.105, 3, 25, None, _S),
    ),
    "XL": _rows(
        ("07:00", 0.105, 3, 25, None, _S),
        ("07:15", 1.820, 6, 40, None, _SH),
        ("07:26", 0.105, 3, 25, None, _S),
        ("07:45", 4.420, 10, 10, 40, _B),
        ("08:01", 0.105, 3, 25, None, _S),
        ("08:15", 0.105, 3, 25, None, _S),
        ("08:30", 0.105, 3, 25, None, _S),
        ("08:45", 0.105, 3, 25, None, _S),
        ("09:00", 0.105, 3, 25, None, _S),
        ("09:30", 0.105, 3, 25, None, _S),
        ("10:00", 0.105, 3, 25, None, _S),
        ("10:30", 0.105, 3, 10, 40, _FC),
        ("11:00", 0.105, 3, 25, None, _S),
        ("11:30", 0.105, 3, 25, None, _S),
        ("11:45", 0.105, 3, 25, None, _S),
        ("12:45", 0.735, 4, 10, 55, _DW),
        ("14:30", 0.105, 3, 25, None, _S),
        ("15:00", 0.105, 3, 25, None, _S),
        ("15:30", 0.105, 3, 25, None, _S),
        ("16:00", 0.105, 3, 25, None, _S),
        ("16:30", 0.105, 3, 25, None, _S),
        ("17:00", 0.105, 3, 25, None, _S),
        ("18:00", 0.105, 3, 25, None, _S),
        ("18:15", 0.105, 3, 40, None, _CL),
        ("18:30", 0.105, 3, 40, None, _CL),
        ("19:00", 0.105, 3, 25, None, _S),
        ("20:30", 0.735, 4, 10, 55, _DW),
        ("20:46", 4.420, 10, 10, 40, _B),
        ("21:15", 0.105, 3, 25, None, _S),
        ("21:30", 4.420, 10, 10, 40, _B),
    ),
    "XXL": _rows(
        ("07:00", 0.105, 3, 25, None, _S),
        ("07:15", 1.820, 6, 40, None, _SH),
        ("07:26", 0.105, 3, 25, None, _S),
        ("07:45", 6.240, 16, 10, 40, _B),
        ("08:01", 0.105, 3, 25, None, _S),
        ("08:15", 0.105, 3, 25, None, _S),
        ("08:30", 0.105, 3, 25, None, _S),
        ("08:45", 0.105, 3, 25, None, _S),
        ("09:00", 0.105, 3, 25, None, _S),
        ("09:30", 0.105, 3, 25, None, _S),
        ("10:00", 0.105, 3, 25, None, _S),
        ("10:30", 0.105, 3, 10, 40, _FC),
        ("11:00", 0.105, 3, 25, None, _S),
        ("11:30", 0.105, 3, 25, None, _S),
        ("11:45", 0.105, 3, 25, None, _S),
        ("12:45", 0.735, 4, 10, 55, _DW),
        ("14:30", 0.105, 3, 25, None, _S),
        ("15:00", 0.105, 3, 25, None, _S),
        ("15:30", 0.105, 3, 25, None, _S),
        ("16:00", 0.105, 3, 25, None, _S),
        ("16:30", 0.105, 3, 25, None, _S),
        ("17:00", 0.105, 3, 25, None, _S),
        ("18:00", 0.105, 3, 25, None, _S),
        ("18:15", 0.105, 3, 40, None, _CL),
        ("18:30", 0.105, 3, 40, None, _CL),
        ("19:00", 0.105, 3, 25, None, _S),
        ("20:30", 0.735, 4, 10, 55, _DW),
        ("20:46", 6.240, 16, 10, 40, _B),
        ("21:15", 0.105, 3, 25, None, _S),
        ("21:30", 6.240, 16, 10, 40, _B),
    ),
    "3XL": _rows(
        ("07:00", 11.20, 48, 40, None, _SH),
        ("08:01", 5.04, 24, 25, None, _S),
        ("09:00", 1.68, 24, 25, None, _S),
        ("10:30", 0.84, 24, 10, 40, _FC),
        ("11:45", 1.68, 24, 25, None, _S),
        ("12:45", 2.52, 32, 10, 55, _DW),
        ("15:30", 2.52, 24, 25, None, _S),
        ("18:30", 3.36, 24, 25, None, _S),
        ("20:30", 5.88, 32, 10, 55, _DW),
        ("21:30", 12.04, 48, 40, None, _SH),
    ),
    "4XL": _rows(
        ("07:00", 22.40, 96, 40, None, _SH),
        ("08:01", 10.08, 48, 25, None, _S),
        ("09:00", 3.36, 48, 25, None, _S),
        ("10:30", 1.68, 48, 10, 40, _FC),
        ("11:45", 3.36, 48, 25, None, _S),
        ("12:45", 5.04, 64, 10, 55, _DW),
        ("15:30", 5.04, 48, 25, None, _S),
        ("18:30", 6.72, 48, 25, None, _S),
        ("20:30", 11.76, 64, 10, 55, _DW),
        ("21:30", 24.08, 96, 40, None, _SH),
    ),
}

#: Reference energy Qref (kWh/day) the regulation states for each profile.
REFERENCE_ENERGY_KWH: dict[str, float] = {
    "M": 5.845, "L": 11.655, "XL": 19.070, "XXL": 24.530, "3XL": 46.76, "4XL": 93.52,
}


def profile_rows(name: str) -> tuple[TappingRow, ...]:
    """The rows of a profile; names are case-insensitive."""
    key = name.strip().upper()
    if key not in TAPPING_CYCLES:
        valid = ", ".join(TAPPING_CYCLES)
        raise DrawProfileError(f"unknown tapping cycle {name!r}; valid: {valid}")
    return TAPPING_CYCLES[key]


@cache
def _day_table(key: str, scale: float) -> DrawTable:
    rows = TAPPING_CYCLES[key]
    return DrawTable(
        start_s=np.array([r.start_s for r in rows]),
        duration_s=np.array([r.duration_s for r in rows]),
        heat_kwh=np.array([r.qtap_kwh * scale for r in rows]),
        use_temp_c=np.array([r.use_temp_c for r in rows]),
        category=np.array([r.kind for r in rows], dtype=object),
    )


class TappingCycleProfile(TableProfile):
    """The same EU tapping cycle every day, its energies multiplied by `scale`.

    Scaling keeps the durations, as if `scale` identical dwellings drew at the same moment
    (2 × 4XL: 48.16 kWh at 21:30 in one 7-minute draw at 192 l/min).
    """

    def __init__(self, name: str, scale: float = 1.0) -> None:
        if not scale > 0:
            raise DrawProfileError(f"scale must be > 0, got {scale}")
        self.rows = profile_rows(name)
        self.name = name.strip().upper()
        self.scale = float(scale)

    def __repr__(self) -> str:
        return f"TappingCycleProfile({self.name!r}, scale={self.scale!r})"

    @property
    def daily_heat_kwh(self) -> float:
        return self.scale * sum(r.qtap_kwh for r in self.rows)

    def day_draws(self) -> list[Draw]:
        """The draws of one day (start_s from midnight)."""
        return _day_table(self.name, self.scale).to_draws()

    def table(self, start: date, days: int) -> DrawTable:
        day = _day_table(self.name, self.scale)
        n = len(day)
        offsets = np.repeat(np.arange(days) * S_PER_DAY, n)
        return DrawTable(
            start_s=np.tile(day.start_s, days) + offsets,
            duration_s=np.tile(day.duration_s, days),
            heat_kwh=np.tile(day.heat_kwh, days),
            use_temp_c=np.tile(day.use_temp_c, days),
            category=np.tile(day.category, days),
        )
