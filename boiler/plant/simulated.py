"""The whole plant on a virtual clock: no sockets, as fast as the CPU allows.

Water path (tanks in flow order): mains → first tank's base … last tank's top → outlet → taps
and recirculation loop, whose return re-enters the last tank. The miners' coolant loop charges one
tank through the plate exchanger (taking water from its base, returning it at its own level or at
the top); the gas boiler's coil heats a zone of one tank. Each step returns the energy flows the
ledger needs, booked so that heat in − heat out − losses = Δstored exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np

from boiler.config import PlantConfig, TankConfig
from boiler.control.plant_model import exchanger_ua_w_per_k
from boiler.control.types import Commands, MinerReading
from boiler.ledger import EnergyFlows
from boiler.plant import _kernel as K
from boiler.plant.coolant import CoolantLoop
from boiler.plant.gas import GasBoiler
from miners.catalogue import get_spec
from miners.model import HydroMiner
from tank.draws import StepDraws
from tank.exchanger import PlateExchanger
from tank.loop import RecirculationLoop
from tank.stratified import MAX_PORTS, STRATIFIED, StratifiedTank, TankParams
from tank.water import HEAT_CAPACITY_J_PER_L_K, litres_to_j_per_k, lpm_to_w_per_k

#: The destratification pump turns a tank's volume over in this time during a legionella cycle.
DESTRATIFY_TURNOVER_S = 1800.0
#: The compiled step writes the flows in this order (`EnergyFlows(*out)`): it must stay the fields' order.
_FLOW_FIELDS = ("electricity_j", "hash_ths_s", "miner_heat_j", "gas_heat_j", "gas_fuel_j", "dumped_j", "dhw_heat_j",
                "dhw_demand_j", "dhw_volume_l", "dhw_volume_below_l", "tank_loss_j", "loop_loss_j", "outlet_c",
                "loop_return_c", "gas_power_w", "miner_power_w")
if tuple(f.name for f in fields(EnergyFlows)) != _FLOW_FIELDS or len(_FLOW_FIELDS) != K.N_FLOWS:
    raise ImportError("EnergyFlows' fields changed: update _FLOW_FIELDS and boiler.plant._kernel.plant_step")


class _TankUnit:
    """A tank with its config and the node indices the plant uses."""

    def __init__(self, cfg: TankConfig) -> None:
        self.cfg = cfg
        self.params = TankParams(volume_l=cfg.volume_l, height_m=cfg.height_m, n_nodes=cfg.nodes,
                                 ua_w_per_k=cfg.ua_w_per_k)
        self.tank = StratifiedTank(self.params, cfg.initial_c)
        self.bottom = cfg.nodes - 1
        self.sensor_nodes = {s.name: self.params.node_at_height(s.height) for s in cfg.sensors}
        #: ("tank.sensor", node) pairs, built once (the sensors are read every tick).
        self.sensor_keys = tuple((f"{cfg.name}.{name}", node) for name, node in self.sensor_nodes.items())
        coil = cfg.gas_coil
        if coil is not None:
            top = self.params.node_at_height(coil.top)
            bottom = self.params.node_at_height(coil.bottom + 1e-9)
            self.coil_node = max(top, bottom)  # its lowest turn (node indices count from the top)
            self.aquastat_node = self.params.node_at_height(coil.sensor_height)
        else:
            self.coil_node = 0
            self.aquastat_node = 0


@dataclass(frozen=True, slots=True)
class _ChargePump:
    """A variable-speed charging pump (`charging.flow: controlled`): its speeds as W/K of water and the
    target it holds when the strategy sets none."""

    lowest_w_per_k: float
    highest_w_per_k: float
    default_target_c: float


class SimulatedPlant:
    def __init__(self, cfg: PlantConfig, draws: StepDraws, cold_water_c: list[float], start_s: float,
                 miners: list[HydroMiner] | None = None) -> None:
        """`draws` and `cold_water_c` hold one value per physics step from `start_s`. `miners` are the
        miners' physics when someone else owns them (an emulator); by default the plant makes its own."""
        self.cfg = cfg
        self.step_s = cfg.simulation.step_s
        self.now_s = start_s
        self._k = 0
        self._draw_heat = draws.heat_j.tolist()
        self._draw_temp = draws.use_temp_c.tolist()
        self._cold = cold_water_c
        self.ambient_c = cfg.site.plant_room_c
        self.setpoint_c = cfg.control.setpoint_c

        self.units = [_TankUnit(t) for t in cfg.tanks]
        self._charge = next(u for u in self.units if u.cfg.name == cfg.charge_tank.name)
        self._gas_unit = next(u for u in self.units if u.cfg.name == cfg.gas_tank.name)
        self._last = self.units[-1]
        i_gas = self.units.index(self._gas_unit)
        self._gas_upstream = self.units[i_gas - 1] if i_gas > 0 else None  # feeds the gas tank's base
        self._charge_inlet = STRATIFIED if cfg.charging.inlet == "stratified" else 0

        self.miners = miners if miners is not None else [
            HydroMiner(get_spec(m.model), m.name, now_s=start_s) for m in cfg.miners
        ]
        flow_lpm = sum(m.spec.coolant_flow_lpm for m in self.miners)
        self._c_hot = lpm_to_w_per_k(flow_lpm)
        # The secondary flow starts at its highest; a controlled pump moves it each step.
        self._c_cold = lpm_to_w_per_k(cfg.charging.highest_lpm(flow_lpm))
        target_c = cfg.charge_target_c
        self._pump = (_ChargePump(lpm_to_w_per_k(cfg.charging.min_flow_lpm), self._c_cold, target_c)
                      if target_c is not None else None)
        self._q_charge_l_per_s = self._c_cold / HEAT_CAPACITY_J_PER_L_K
        hx = PlateExchanger(exchanger_ua_w_per_k(cfg))
        self.exchanger = hx
        min_inlet = cfg.coolant.min_inlet_c
        if min_inlet is None:
            min_inlet = max((m.spec.inlet_min_c for m in self.miners), default=0.0) + 2.0
        start_inlet = max(min_inlet, self._charge.tank.bottom_c)
        self.coolant = CoolantLoop(litres_to_j_per_k(cfg.coolant.loop_volume_l), hx, min_inlet, start_inlet,
                                   ua_w_per_k=cfg.coolant.ua_w_per_k, ambient_c=self.ambient_c)

        g = cfg.gas_boiler
        self.gas = (
            GasBoiler(output_w=g.output_kw * 1000, efficiency_pci=g.efficiency_pci, min_run_s=g.min_run_s,
                      min_off_s=g.min_off_s, hysteresis_k=g.hysteresis_k, min_modulation=g.min_modulation,
                      modulation_band_k=g.modulation_band_k, max_flow_c=g.max_flow_c)
            if g is not None else None
        )
        lc = cfg.loop
        self.loop = (
            RecirculationLoop.sized(lc.loss_w, lc.design_supply_c, lc.drop_k,
                                    lc.ambient_c if lc.ambient_c is not None else self.ambient_c)
            if lc is not None and lc.loss_w > 0 else None
        )
        if lc is None or lc.return_height == "stratified":
            self._loop_return_node = STRATIFIED
        else:
            self._loop_return_node = self._last.params.node_at_height(float(lc.return_height))
        self._cmd = np.zeros(K.N_CMD)  # the commands as the compiled step reads them
        self.commands = Commands(miner_limits_w={}, charge_pump=True, gas_enable=self.gas is not None,
                                 gas_setpoint_c=self.setpoint_c + 2.0, destratify=False, dry_cooler=False,
                                 reason="start")
        self.loop_return_c = self.loop.return_c(self.outlet_c) if self.loop else math.nan
        self._build_kernel_tables()
        self.coolant_out_c = self.coolant.inlet_c
        #: Water the exchanger sent to the charge tank over the last step (NaN: no exchange then).
        self.charge_supply_c = math.nan
        self.gas_power_w = 0.0

    def _build_kernel_tables(self) -> None:
        """The parameters, state buffers and scratch arrays of the compiled step (`boiler.plant._kernel`).

        The tanks' own arrays (profile, heat per node, loss decay) are shared, not copied: the compiled
        step advances each `StratifiedTank` in place, so its properties stay the plant's truth."""
        dt = self.step_s
        tanks = [u.tank for u in self.units]
        for t in tanks:
            t.prepare(dt)
        self._temps = tuple(t.temps_c for t in tanks)
        self._heats = tuple(t.heat_w for t in tanks)
        self._decays = tuple(t.decay for t in tanks)
        self._tank_f = np.array([[t.node_volume_l, t.conduction_g, t.heat_k_per_w, t.node_capacity_j_per_k,
                                  t.params.volume_l] for t in tanks])
        self._tank_reps = np.array([t.conduction_reps for t in tanks], dtype=np.int64)
        p = np.zeros(K.N_PARAMS)
        p[K.P_DT_S], p[K.P_AMBIENT_C], p[K.P_SETPOINT_C] = dt, self.ambient_c, self.setpoint_c
        p[K.P_CAP_PER_L] = HEAT_CAPACITY_J_PER_L_K
        p[K.P_C_HOT], p[K.P_C_COLD], p[K.P_Q_CHARGE] = self._c_hot, self._c_cold, self._q_charge_l_per_s
        c = self.coolant
        p[K.P_COOLANT_CAP], p[K.P_COOLANT_UA], p[K.P_COOLANT_AMBIENT_C] = c.capacity_j_per_k, c.ua_w_per_k, c.ambient_c
        p[K.P_MIN_INLET_C] = c.min_inlet_c
        p[K.P_HX_G], p[K.P_HX_DECAY] = c.exchange_factors(dt, self._c_hot, self._c_cold)
        g = self.gas
        if g is not None:
            p[K.P_GAS_OUTPUT_W], p[K.P_GAS_EFFICIENCY] = g.output_w, g.efficiency_pci
            p[K.P_GAS_MIN_RUN_S], p[K.P_GAS_MIN_OFF_S] = g.min_run_s, g.min_off_s
            p[K.P_GAS_HYSTERESIS_K] = g.hysteresis_k
            p[K.P_GAS_MIN_MODULATION], p[K.P_GAS_BAND_K] = g.min_modulation, g.modulation_band_k
            p[K.P_GAS_MAX_FLOW_C] = g.max_flow_c
        if self.loop is not None:
            p[K.P_LOOP_AMBIENT_C], p[K.P_LOOP_KEPT] = self.loop.ambient_c, self.loop.kept
            p[K.P_Q_LOOP] = self.loop.flow_l_per_s
        p[K.P_DESTRATIFY_TURNOVER_S] = DESTRATIFY_TURNOVER_S
        dc = self.cfg.dry_cooler
        if dc is not None:
            p[K.P_DRY_CAPACITY_W] = dc.capacity_kw * 1000.0
            p[K.P_DRY_AIR_C], p[K.P_DRY_DELTA_K] = dc.air_c, dc.design_delta_k
        self._p = p
        pi = np.zeros(K.N_INTS, dtype=np.int64)
        pi[K.I_CHARGE], pi[K.I_GAS] = self.units.index(self._charge), self.units.index(self._gas_unit)
        pi[K.I_COIL_NODE], pi[K.I_AQUASTAT_NODE] = self._gas_unit.coil_node, self._gas_unit.aquastat_node
        pi[K.I_LOOP_RETURN_NODE], pi[K.I_CHARGE_INLET] = self._loop_return_node, self._charge_inlet
        pi[K.I_HAS_LOOP], pi[K.I_HAS_MINERS] = self.loop is not None, bool(self.miners)
        pi[K.I_HAS_DRY_COOLER], pi[K.I_HAS_GAS] = dc is not None, g is not None
        self._pi = pi
        self._in_node = np.zeros(MAX_PORTS, dtype=np.int64)
        self._out_node = np.zeros(MAX_PORTS, dtype=np.int64)
        self._in_q, self._in_t, self._out_q, self._out_mean = (np.zeros(MAX_PORTS) for _ in range(4))
        self._out = np.zeros(K.N_OUT)

    @property
    def commands(self) -> Commands:
        return self._commands

    @commands.setter
    def commands(self, commands: Commands) -> None:
        self._commands = commands
        cmd = self._cmd
        cmd[K.C_CHARGE_PUMP], cmd[K.C_GAS_ENABLE] = commands.charge_pump, commands.gas_enable
        cmd[K.C_GAS_SETPOINT_C], cmd[K.C_DESTRATIFY] = commands.gas_setpoint_c, commands.destratify
        cmd[K.C_DRY_COOLER] = commands.dry_cooler

    # -- state ------------------------------------------------------------------------------
    @property
    def draw_heat_j(self) -> list[float]:
        """Heat asked at the taps in every step from the start (the simulator's future: yardsticks only)."""
        return self._draw_heat

    @property
    def outlet_c(self) -> float:
        return self._last.tank.top_c

    def energy_j(self) -> float:
        return sum(u.tank.energy_j() for u in self.units)

    def sensor_values(self) -> dict[str, float]:
        """True temperature at every configured sensor, keyed "tank.sensor" (plain floats)."""
        out: dict[str, float] = {}
        for u in self.units:
            temps = u.tank.temps_c.tolist()
            for key, node in u.sensor_keys:
                out[key] = temps[node]
        return out

    def store_min_c(self) -> dict[str, float]:
        """Coldest node of each tank (the bottom one: the tank keeps its profile monotone)."""
        return {u.cfg.name: u.tank.coldest_c for u in self.units}

    def miner_readings(self) -> tuple[MinerReading, ...]:
        inlet = self.coolant.inlet_c
        out = []
        for m in self.miners:
            o = m.output(self.now_s, inlet)
            out.append(MinerReading(name=m.name, available=True, state=str(o.state), power_w=o.power_w,
                                    hashrate_ths=o.hashrate_ths, limit_w=None if m.sleeping else m.power_limit_w))
        return tuple(out)

    @property
    def cold_water_c(self) -> float:
        return self._cold[min(self._k, len(self._cold) - 1)]

    # -- commands ---------------------------------------------------------------------------
    def apply(self, commands: Commands, *, miners: bool = True) -> None:
        """Carry out the commands; with miners=False the miner orders went another way (pyasic)."""
        self.commands = commands
        if not miners:
            return
        if not commands.miner_limits_w:
            return
        by_name = {m.name: m for m in self.miners}
        for name, limit in commands.miner_limits_w.items():
            miner = by_name[name]
            if limit is None:
                if not miner.sleeping:
                    miner.sleep(self.now_s)
            else:
                if miner.sleeping:
                    miner.wake(self.now_s)
                if abs(limit - miner.power_limit_w) > 1e-6:
                    miner.set_power_limit(limit, self.now_s)

    # -- dynamics ---------------------------------------------------------------------------
    def step(self) -> EnergyFlows:
        """One physics step: the miners (Python: they may be an emulator's), then the rest of the plant
        in one compiled call (`boiler.plant._kernel.plant_step`: draw, recirculation loop, coolant loop
        and exchanger, gas boiler on its coil, every tank's ports and inner step, the flows).

        The draw takes the heat asked for from the outlet, mixing down with cold water. The gas coil
        heats the water around its lowest turn, which rises (buoyancy mixing spreads it through the
        zone above); it cannot heat past its flow temperature: neither the water standing at the coil
        nor the water that flows past it during the step (a big draw renews the coil's node several
        times a step; that water can take the heat too). Draws enter every tank at its base and leave
        at its top, so they pass the coil wherever it is, arriving at the temperature below it; the
        loop's return may enter above the coil: not counted. The coolant loop's charge enters the
        charge tank at its own level (or its top) and leaves at its base.
        """
        k = self._k
        now = self.now_s
        coolant = self.coolant
        inlet_c = coolant.inlet_c
        p_elec = heat = hash_ths = 0.0
        for m in self.miners:
            o = m.output(now, inlet_c)
            p_elec += o.power_w
            heat += o.heat_to_coolant_w
            hash_ths += o.hashrate_ths
        if self._pump is not None:
            self._control_charge_flow(self._pump, heat)
        demand_j = self._draw_heat[k] if k < len(self._draw_heat) else 0.0
        use_c = self._draw_temp[k] if demand_j > 0.0 else 0.0
        gas = self.gas
        if gas is not None:
            firing, since_s, starts = gas.firing, gas.since_s, gas.starts
        else:
            firing, since_s, starts = False, 0.0, 0
        coolant.inlet_c, firing, since_s, starts = K.plant_step(
            self._temps, self._heats, self._decays, self._tank_f, self._tank_reps, self._p, self._pi, self._cmd,
            self._in_node, self._in_q, self._in_t, self._out_node, self._out_q, self._out_mean, self._out,
            self._cold[k], demand_j, use_c, heat, p_elec, hash_ths, now, inlet_c, firing, since_s, starts,
        )
        if gas is not None:
            gas.firing, gas.since_s, gas.starts = firing, since_s, starts
        out = self._out.tolist()
        f = EnergyFlows(*out[:K.N_FLOWS])
        self.coolant_out_c = out[K.O_COOLANT_OUT_C]
        self.charge_supply_c = out[K.O_CHARGE_SUPPLY_C]
        self.gas_power_w = f.gas_power_w
        if self.loop is not None:
            self.loop_return_c = f.loop_return_c
        self.now_s = now + self.step_s
        self._k = k + 1
        return f

    #: The pump's speed moves in steps of this many W/K of water (~0.1 L/min): the exchanger's factors are
    #: recomputed only when it moves.
    _FLOW_STEP_W_PER_K = 7.0
    #: The pump holds its lowest speed while the coolant's hot end is this far below the target (a start).
    _WARM_UP_K = 3.0

    @property
    def charge_flow_lpm(self) -> float:
        """The charging circuit's secondary flow now (L/min)."""
        return self._c_cold / HEAT_CAPACITY_J_PER_L_K * 60.0

    def _control_charge_flow(self, pump: _ChargePump, miner_heat_w: float) -> None:
        """A variable-speed charging pump whose controller holds the water it sends to the tank at its target:
        at steady state the flow carries the miners' heat from the tank's base to the target in one pass,
        ṁ·c = Q / (T_target − T_base). While the coolant's hot end (the miners' outlet) is still well below the
        target — a start — it runs at its lowest speed, so no lukewarm water enters the store; with the base
        near the target (the tank full) at its highest, and the miners' inlet rises: they throttle, as with
        any pump."""
        lo, hi = pump.lowest_w_per_k, pump.highest_w_per_k
        target = self.commands.charge_target_c
        if target is None:
            target = pump.default_target_c
        base = self._charge.tank.bottom_c
        span_k = target - base
        hot_in = self.coolant.inlet_c + (miner_heat_w / self._c_hot if self._c_hot else 0.0)
        warming = hot_in < target - self._WARM_UP_K
        want = lo if warming else miner_heat_w / span_k if span_k > 0.5 else hi
        step = self._FLOW_STEP_W_PER_K
        c_cold = min(max(round(want / step) * step, lo), hi)
        if c_cold == self._c_cold:
            return
        self._c_cold = c_cold
        p = self._p
        p[K.P_C_COLD], p[K.P_Q_CHARGE] = c_cold, c_cold / HEAT_CAPACITY_J_PER_L_K
        p[K.P_HX_G], p[K.P_HX_DECAY] = self.coolant.exchange_factors(self.step_s, self._c_hot, c_cold)

    def gas_starts(self) -> int:
        return self.gas.starts if self.gas is not None else 0

    def limit_changes(self) -> Mapping[str, int]:
        return {m.name: m.limit_changes for m in self.miners}
