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

from boiler.config import PlantConfig, TankConfig
from boiler.control.plant_model import exchanger_ua_w_per_k
from boiler.control.types import Commands, MinerReading
from boiler.ledger import EnergyFlows
from boiler.plant.coolant import CoolantLoop
from boiler.plant.gas import GasBoiler
from miners.catalogue import get_spec
from miners.model import HydroMiner
from tank.draws import StepDraws
from tank.exchanger import PlateExchanger
from tank.loop import RecirculationLoop
from tank.stratified import STRATIFIED, StratifiedTank, TankParams
from tank.water import HEAT_CAPACITY_J_PER_L_K, litres_to_j_per_k, lpm_to_w_per_k

#: The destratification pump turns a tank's volume over in this time during a legionella cycle.
DESTRATIFY_TURNOVER_S = 1800.0


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
        if cfg.charging.flow == "balanced":
            self._c_cold = self._c_hot
        else:
            self._c_cold = lpm_to_w_per_k(float(cfg.charging.flow))
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
        self.commands = Commands(miner_limits_w={}, charge_pump=True, gas_enable=self.gas is not None,
                                 gas_setpoint_c=self.setpoint_c + 2.0, destratify=False, dry_cooler=False,
                                 reason="start")
        self.loop_return_c = self.loop.return_c(self.outlet_c) if self.loop else math.nan
        self._has_miners = bool(self.miners)
        self.coolant_out_c = self.coolant.inlet_c
        self.gas_power_w = 0.0

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
        dt = self.step_s
        k = self._k
        cmd = self.commands
        cold_c = self._cold[k]
        last = self._last
        cap_per_l = HEAT_CAPACITY_J_PER_L_K

        # Draw: the tap takes the heat asked for from the outlet, mixing down with cold water.
        outlet0 = last.tank.top_c
        demand_j = self._draw_heat[k] if k < len(self._draw_heat) else 0.0
        q_draw = 0.0
        if demand_j > 0.0:
            use_c = self._draw_temp[k]
            lift_k = outlet0 - cold_c if outlet0 >= use_c else use_c - cold_c
            q_draw = demand_j / (dt * cap_per_l * max(lift_k, 1.0))
        loop = self.loop
        if loop is not None:
            loop_return_c = loop.return_c(outlet0)
            q_loop = loop.flow_l_per_s
        else:
            loop_return_c = math.nan
            q_loop = 0.0

        # Miners and the coolant loop.
        coolant = self.coolant
        inlet_c = coolant.inlet_c
        now = self.now_s
        p_elec = heat = hash_ths = 0.0
        for m in self.miners:
            o = m.output(now, inlet_c)
            p_elec += o.power_w
            heat += o.heat_to_coolant_w
            hash_ths += o.hashrate_ths
        c_hot = self._c_hot
        rise_k = heat / c_hot if c_hot else 0.0
        if cmd.dry_cooler:
            dump_w = self._dump_w(inlet_c + rise_k)
            dump_w = min(dump_w, max(heat, 0.0) + coolant.capacity_j_per_k * max(inlet_c - self.ambient_c, 0) / dt)
        else:
            dump_w = 0.0
        charge = self._charge
        cs = coolant.step(dt, heat, c_hot, cmd.charge_pump and self._has_miners, self._c_cold,
                          charge.tank.bottom_c, dump_w)
        self.coolant_out_c = cs.inlet_c + rise_k

        # Gas boiler on its coil. The coil heats the water around its lowest turn, which rises
        # (buoyancy mixing spreads it through the zone above); it cannot heat past its flow temperature:
        # neither the water standing at the coil nor the water that flows past it during the step
        # (a big draw renews the coil's node several times a step; that water can take the heat too).
        # Draws enter every tank at its base and leave at its top, so they pass the coil wherever it is,
        # arriving at the temperature below it; the loop's return may enter above the coil: not counted.
        gas_heat_w = 0.0
        gas = self.gas
        if gas is not None:
            gu = self._gas_unit
            temps = gu.tank.temps_c
            gas_heat_w = gas.heat_w(now, cmd.gas_enable, cmd.gas_setpoint_c, float(temps[gu.aquastat_node]))
            if gas_heat_w > 0.0:
                coil = gu.coil_node
                if coil < gu.bottom:
                    arriving_c = float(temps[coil + 1])
                else:  # the coil's lowest turn in the base: the water arrives from upstream (or the mains)
                    up = self._gas_upstream
                    arriving_c = up.tank.top_c if up is not None else cold_c
                max_c = gas.max_flow_c
                room_w = ((max_c - float(temps[coil])) * gu.tank.node_capacity_j_per_k / dt
                          + q_draw * cap_per_l * max(max_c - arriving_c, 0.0))
                gas_heat_w = max(0.0, min(gas_heat_w, room_w))
        self.gas_power_w = gas_heat_w

        # Advance the tanks in flow order, filling each tank's port buffers (the hot path).
        water_in_c = cold_c
        tank_loss_j = miner_heat_j = 0.0
        exchanging = cs.exchanged_w != 0.0
        for u in self.units:
            t = u.tank
            is_last = u is last
            n_in = n_out = 0
            charge_idx = -1
            if q_draw > 0:
                t.in_node[0], t.in_q[0], t.in_t[0] = u.bottom, q_draw, water_in_c
                n_in = 1
            top_out = q_draw
            if is_last and loop is not None:
                t.in_node[n_in], t.in_q[n_in], t.in_t[n_in] = self._loop_return_node, q_loop, loop_return_c
                n_in += 1
                top_out += q_loop
            if top_out > 0:
                t.out_node[0], t.out_q[0] = 0, top_out
                n_out = 1
            if exchanging and u is charge:
                q_c = self._q_charge_l_per_s
                t.in_node[n_in], t.in_q[n_in], t.in_t[n_in] = self._charge_inlet, q_c, cs.secondary_out_c
                t.out_node[n_out], t.out_q[n_out] = u.bottom, q_c
                charge_idx = n_out
                n_in += 1
                n_out += 1
            if u is self._gas_unit:
                if cmd.destratify:
                    q_mix = u.cfg.volume_l / DESTRATIFY_TURNOVER_S
                    t.in_node[n_in], t.in_q[n_in], t.in_t[n_in] = u.bottom, q_mix, t.top_c
                    t.out_node[n_out], t.out_q[n_out] = 0, q_mix
                    n_in += 1
                    n_out += 1
                t.heat_w[u.coil_node] = gas_heat_w
            loss_j, _ = t.advance(dt, self.ambient_c, n_in, n_out)
            tank_loss_j += loss_j
            if top_out > 0 or charge_idx >= 0:
                means = t.out_mean_c.tolist()
                if top_out > 0:
                    water_in_c = means[0]
                if charge_idx >= 0:
                    back_c = means[charge_idx]
                    miner_heat_j = self._q_charge_l_per_s * dt * cap_per_l * (cs.secondary_out_c - back_c)

        # The outlet, the taps and the loop: the last tank's top.
        f = EnergyFlows(tank_loss_j=tank_loss_j, miner_heat_j=miner_heat_j, dhw_demand_j=demand_j,
                        electricity_j=p_elec * dt, hash_ths_s=hash_ths * dt, gas_heat_j=gas_heat_w * dt,
                        gas_fuel_j=gas.fuel_w(gas_heat_w) * dt if gas is not None else 0.0,
                        dumped_j=cs.dumped_w * dt, gas_power_w=gas_heat_w, miner_power_w=p_elec)
        outlet_avg = water_in_c if q_draw + q_loop > 0 else last.tank.top_c
        f.outlet_c = outlet_avg
        if q_draw > 0:
            vol = q_draw * dt
            f.dhw_volume_l = vol
            f.dhw_heat_j = vol * cap_per_l * (outlet_avg - cold_c)
            if outlet_avg < self.setpoint_c:
                f.dhw_volume_below_l = vol
        if loop is not None:
            f.loop_loss_j = q_loop * dt * cap_per_l * (outlet_avg - loop_return_c)
            f.loop_return_c = loop_return_c
            self.loop_return_c = loop_return_c
        self.now_s += dt
        self._k += 1
        return f

    def _dump_w(self, coolant_hot_c: float) -> float:
        dc = self.cfg.dry_cooler
        if dc is None:
            return 0.0
        share = (coolant_hot_c - dc.air_c) / dc.design_delta_k
        return dc.capacity_kw * 1000.0 * min(1.0, max(0.0, share))

    def gas_starts(self) -> int:
        return self.gas.starts if self.gas is not None else 0

    def limit_changes(self) -> Mapping[str, int]:
        return {m.name: m.limit_changes for m in self.miners}
