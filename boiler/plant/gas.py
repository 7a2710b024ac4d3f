"""A modulating gas boiler heating a tank zone through a coil, with its own aquastat.

The controller only enables it and gives a setpoint; like a real boiler it then fires by itself
below setpoint − hysteresis, modulates down as the zone nears the setpoint, stops at the
setpoint, and respects minimum run and off times (which limit burner cycling).
"""

from __future__ import annotations

from dataclasses import dataclass

from boiler.plant._kernel import gas_heat_w


@dataclass(slots=True)
class GasBoiler:
    output_w: float
    efficiency_pci: float
    min_run_s: float
    min_off_s: float
    hysteresis_k: float
    min_modulation: float
    modulation_band_k: float
    max_flow_c: float
    firing: bool = False
    #: When the burner last started or stopped.
    since_s: float = -1e18
    starts: int = 0

    def heat_w(self, now_s: float, enabled: bool, setpoint_c: float, sensor_c: float) -> float:
        """Decide the firing state at now_s and return the heat output for the coming step.

        The rule is the compiled `gas_heat_w` the simulated plant's step runs too (one implementation):
        a firing burner stops when disabled, at its flow temperature, or at the setpoint once it has run
        `min_run_s`; an idle one starts below setpoint − hysteresis once it has been off `min_off_s`;
        it modulates linearly over `modulation_band_k` below the setpoint, never under `min_modulation`.
        """
        self.firing, self.since_s, self.starts, heat = gas_heat_w(
            self.firing, self.since_s, self.starts, self.output_w, self.min_run_s, self.min_off_s,
            self.hysteresis_k, self.min_modulation, self.modulation_band_k, self.max_flow_c,
            now_s, enabled, setpoint_c, sensor_c,
        )
        return heat

    def fuel_w(self, heat_w: float) -> float:
        """Fuel burnt (on the net calorific value, PCI) for a heat output."""
        return heat_w / self.efficiency_pci
