"""The one registry of strategies a plant can run, keyed as the config's `control.strategy.type`.

The simulation adds its yardsticks (`optimum`, `mpc_oracle`: they read the future) on top of these,
in `boiler.simulation.yardsticks`; the plant service can only build what is registered here.
"""

from __future__ import annotations

from collections.abc import Callable

from boiler.config import PlantConfig
from boiler.control.mpc import MpcStrategy
from boiler.control.plant_model import PlantModel
from boiler.control.strategies import RuleStrategy, Strategy, ThermostatStrategy

StrategyBuilder = Callable[[PlantConfig, PlantModel], Strategy]


def rule_strategy(cfg: PlantConfig, model: PlantModel) -> RuleStrategy:
    g = cfg.gas_boiler
    return RuleStrategy(model, cfg.control, cfg.prices.gas, g.efficiency_pci if g else 0.92,
                        g.hysteresis_k if g else 2.0)


def _mpc(cfg: PlantConfig, model: PlantModel) -> Strategy:
    return MpcStrategy(cfg, model, rule_strategy(cfg, model))


def _thermostat(cfg: PlantConfig, model: PlantModel) -> Strategy:
    return ThermostatStrategy(model, cfg.control, cfg.charge_tank.name)


REGISTRY: dict[str, StrategyBuilder] = {"rule": rule_strategy, "thermostat": _thermostat, "mpc": _mpc}


def make_strategy(name: str, cfg: PlantConfig, model: PlantModel) -> Strategy:
    try:
        build = REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}; a plant runs one of {', '.join(REGISTRY)}") from None
    return build(cfg, model)
