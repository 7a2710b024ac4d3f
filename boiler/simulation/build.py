"""What a simulation is built from: the mains, the draws and the simulated plant of a config."""

from __future__ import annotations

import math
from datetime import date

import numpy as np

from boiler.config import CsvDrawsConfig, PlantConfig, SeasonalMainsConfig, StochasticDrawsConfig
from boiler.plant.simulated import SimulatedPlant
from boiler.site_time import local_midnight_s as _zone_midnight_s
from miners.model import HydroMiner
from tank.dhwcalc import StochasticProfile
from tank.draw_csv import CsvProfile
from tank.draws import DrawProfile
from tank.mains import ConstantMains, MainsModel, SeasonalMains, day_of_year
from tank.tapping_cycles import TappingCycleProfile
from tank.water import S_PER_DAY


def mains_model(cfg: PlantConfig) -> MainsModel:
    m = cfg.mains
    if isinstance(m, SeasonalMainsConfig):
        return SeasonalMains(mean_c=m.mean_c, amplitude_k=m.amplitude_k, coldest_day=m.coldest_day)
    return ConstantMains(m.temp_c)


def draw_profile(cfg: PlantConfig, mains: MainsModel, seed: int) -> DrawProfile:
    d = cfg.draws
    if isinstance(d, StochasticDrawsConfig):
        return StochasticProfile(d.flats, mains=mains, seed=seed,
                                 litres_per_standard_flat_day=d.litres_per_standard_flat_day,
                                 weekend_factor=d.weekend_factor, seasonal_amplitude=d.seasonal_amplitude,
                                 shape=d.shape)
    if isinstance(d, CsvDrawsConfig):
        return CsvProfile(d.path, mains, site_tz=cfg.site.timezone)
    return TappingCycleProfile(d.profile, scale=d.scale)


def local_midnight_s(cfg: PlantConfig, day: date) -> float:
    """Epoch seconds of the site's local midnight starting `day`."""
    return _zone_midnight_s(cfg.site.timezone, day)


def build_plant(cfg: PlantConfig, start: date, days: float, seed: int = 1,
                miners: list[HydroMiner] | None = None) -> SimulatedPlant:
    """The simulated plant from local midnight of `start`, with draws and mains for `days`."""
    step_s = cfg.simulation.step_s
    n_steps = max(1, round(days * S_PER_DAY / step_s))
    mains = mains_model(cfg)
    draws = draw_profile(cfg, mains, seed).steps(start, math.ceil(days), step_s)
    cold = np.asarray(mains.temp_c(day_of_year(start, np.arange(n_steps) * step_s)), dtype=float)
    return SimulatedPlant(cfg, draws, np.broadcast_to(cold, (n_steps,)).tolist(), local_midnight_s(cfg, start),
                          miners=miners)
