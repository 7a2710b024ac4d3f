"""A modulating gas boiler heating a tank zone through a coil, with its own aquastat.

The controller only enables it and gives a setpoint; like a real boiler it then fires by itself
below setpoint − hysteresis, modulates down as the zone nears the setpoint, stops at the
setpoint, and respects minimum run and off times (which limit burner cycling).
"""

from __future__ import annotations

from dataclasses import dataclass


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
    _since_s: float = -1e18
    starts: int = 0

    def heat_w(self, now_s: float, enabled: bool, setpoint_c: float, sensor_c: float) -> float:
        """Decide the firing state at now_s and return the heat output for the coming step."""
        elapsed = now_s - self._since_s
        if self.firing:
            done = sensor_c >= setpoint_c and elapsed >= self.min_run_s
            if not enabled or done or sensor_c >= self.max_flow_c:
                self.firing = False
                self._since_s = now_s
        elif (
            enabled
            and sensor_c < setpoint_c - self.hysteresis_k
            and elapsed >= self.min_off_s
            and sensor_c < self.max_flow_c
        ):
            self.firing = True
            self._since_s = now_s
            self.starts += 1
        if not self.firing:
            return 0.0
        share = (setpoint_c - sensor_c) / self.modulation_band_k
        return self.output_w * min(1.0, max(self.min_modulation, share))

    def fuel_w(self, heat_w: float) -> float:
        """Fuel burnt (on the net calorific value, PCI) for a heat output."""
        return heat_w / self.efficiency_pci
