"""Candidates: the product of the sizing file's ranges, each turned into a full plant config.

The building's own choice (its miners, store volume, layout and strategy) is the reference candidate:
its config is the building's config untouched, so its figures are exactly those of `boiler simulate`.
Other candidates change only what they vary:

* miners: `count` miners of `model`, named `<model>-<n>`;
* the store the miners charge is scaled to the candidate's volume at the same shape: height × (V/V₀)^⅓,
  jacket loss coefficient × (V/V₀)^⅔ (loss goes with the surface), same nodes, sensors, initial profile;
* layout `single`: one store, the gas coil in its top third (the building's own store and coil if it has
  one; from a pre-heat building, its pre-heat tank starting as warm as its finishing tank);
  layout `preheat`: the miners charge a pre-heat tank, the gas finishes in a finishing tank downstream
  (the building's, or one of `finishing_volume_l` shaped as `residence-48-preheat`'s);
* strategy: `control.strategy`.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any

from boiler.config import ConfigError, GasCoilConfig, PlantConfig, SensorConfig, TankConfig, parse_config
from boiler.sizing.spec import Layout, SizingError, SizingSpec
from miners.config import MinerConfig


@dataclass(frozen=True, slots=True)
class Candidate:
    model: str
    count: int
    store_volume_l: float
    layout: Layout
    strategy: str

    @property
    def label(self) -> str:
        return f"{self.count}×{self.model} · {self.store_volume_l:,.0f} L {self.layout} · {self.strategy}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def layout_of(cfg: PlantConfig) -> Layout:
    return "preheat" if len(cfg.tanks) > 1 and cfg.charge_tank.role == "preheat" else "single"


def reference_of(cfg: PlantConfig) -> Candidate:
    """The building's own choice as a candidate."""
    models = {m.model for m in cfg.miners}
    if len(models) != 1:
        raise SizingError(f"the building has miners of {len(models)} models ({sorted(models)}); the sizing file "
                          "must list `miners:` explicitly")
    return Candidate(model=next(iter(models)), count=len(cfg.miners), store_volume_l=cfg.charge_tank.volume_l,
                     layout=layout_of(cfg), strategy=cfg.control.strategy_name)


def expand(spec: SizingSpec, cfg: PlantConfig) -> list[Candidate]:
    """Every candidate of the sizing spec on this building, the reference first if it is among them."""
    ref = reference_of(cfg) if spec.miners is None else None
    fleets = ([(ref.model, ref.count)] if ref is not None
              else [(opt.model, n) for opt in spec.miners or [] for n in opt.counts])
    volumes = spec.store_volume_l or [cfg.charge_tank.volume_l]
    layouts = spec.layout or [layout_of(cfg)]
    strategies = spec.strategy or [cfg.control.strategy_name]
    return [Candidate(model, count, float(volume), layout, strategy)
            for (model, count), volume, layout, strategy in itertools.product(fleets, volumes, layouts, strategies)]


def _scaled(tank: TankConfig, volume_l: float, **update: Any) -> TankConfig:
    if volume_l == tank.volume_l:
        return tank.model_copy(update=update)
    ratio = volume_l / tank.volume_l
    return tank.model_copy(update={"volume_l": volume_l, "height_m": tank.height_m * ratio ** (1 / 3),
                                   "ua_w_per_k": tank.ua_w_per_k * ratio ** (2 / 3), **update})


def _finishing_template(volume_l: float) -> TankConfig:
    """The finishing tank of `residence-48-preheat`, scaled to `volume_l`."""
    tank = TankConfig(
        name="finishing", role="finishing", volume_l=500.0, height_m=1.6, nodes=8, ua_w_per_k=2.5,
        gas_coil=GasCoilConfig(bottom=0.0, top=1.0, sensor_height=0.5),
        sensors=[SensorConfig(name="top", height=0.95), SensorConfig(name="middle", height=0.5),
                 SensorConfig(name="bottom", height=0.05)],
        initial_c=62.0,
    )
    return _scaled(tank, volume_l)


def _tanks(cfg: PlantConfig, cand: Candidate, finishing_volume_l: float) -> tuple[list[dict[str, Any]], str, str]:
    """The candidate's tanks (as config dicts), the tank the miners charge and the one with the gas coil."""
    charge = cfg.charge_tank
    if cand.layout == "single":
        if layout_of(cfg) == "single":  # only the charged store changes; any other tank stays as it is
            tanks = [_scaled(t, cand.store_volume_l) if t.name == charge.name else t for t in cfg.tanks]
            return [t.model_dump() for t in tanks], charge.name, cfg.gas_tank.name
        # the pre-heat tank becomes the store: gas coil in its top third, as warm as the finishing tank
        warm = cfg.finishing_tank.initial_c
        store = _scaled(charge, cand.store_volume_l, role="finishing",
                        gas_coil=GasCoilConfig(bottom=0.67, top=1.0, sensor_height=0.75),
                        initial_c=max(warm) if isinstance(warm, list) else warm)
        return [store.model_dump()], store.name, store.name
    preheat = _scaled(charge, cand.store_volume_l, role="preheat", gas_coil=None)
    if layout_of(cfg) == "preheat":
        finishing = cfg.finishing_tank
    else:
        finishing = _finishing_template(finishing_volume_l)
        if finishing.name == preheat.name:
            preheat = preheat.model_copy(update={"name": "preheat"})
    return [preheat.model_dump(), finishing.model_dump()], preheat.name, finishing.name


def candidate_config(cfg: PlantConfig, cand: Candidate, finishing_volume_l: float = 500.0) -> PlantConfig:
    """The building's config with the candidate's choices; the reference candidate gets it untouched."""
    if cand == reference_of_or_none(cfg):
        return cfg
    data = cfg.model_dump()
    same_fleet = {m.model for m in cfg.miners} == {cand.model} and len(cfg.miners) == cand.count
    if not same_fleet:
        data["miners"] = [MinerConfig(name=f"{cand.model}-{i + 1}", model=cand.model).model_dump()
                          for i in range(cand.count)]
    if cand.store_volume_l != cfg.charge_tank.volume_l or cand.layout != layout_of(cfg):
        tanks, charge_name, gas_name = _tanks(cfg, cand, finishing_volume_l)
        data["tanks"] = tanks
        data["charging"] = {**data["charging"], "tank": charge_name}
        if data.get("gas_boiler") is not None:
            data["gas_boiler"] = {**data["gas_boiler"], "tank": gas_name}
    data["control"] = {**data["control"], "strategy": {"type": cand.strategy}}
    try:
        return parse_config(data, f"candidate {cand.label}")
    except ConfigError as exc:  # a candidate the config rejects is a sizing-file problem, said as such
        raise SizingError(str(exc)) from exc


def reference_of_or_none(cfg: PlantConfig) -> Candidate | None:
    try:
        return reference_of(cfg)
    except SizingError:
        return None
