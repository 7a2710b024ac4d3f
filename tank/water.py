"""Properties of water used throughout the physics.

One constant density and heat capacity keep every energy balance exact and every analytic
oracle simple. 983 kg/m³ is water at about 60 °C; with it the reference figures of
reference/domain.md §6 hold (1,500 L, UA 3 W/K → τ = 23.8 d; 1,500 L from 45 to 60 °C with
5.36 kW → 4.80 h).
"""

from typing import Final

DENSITY_KG_PER_L: Final = 0.983
CP_J_PER_KG_K: Final = 4186.0
#: Heat capacity of one litre of water, J/(L·K).
HEAT_CAPACITY_J_PER_L_K: Final = DENSITY_KG_PER_L * CP_J_PER_KG_K
#: Thermal conductivity of still water, W/(m·K).
CONDUCTIVITY_W_PER_M_K: Final = 0.6
J_PER_KWH: Final = 3.6e6
S_PER_DAY: Final = 86_400.0


def lpm_to_w_per_k(flow_lpm: float) -> float:
    """Heat-capacity rate (W/K) of a water flow given in litres per minute."""
    return flow_lpm / 60.0 * HEAT_CAPACITY_J_PER_L_K


def litres_to_j_per_k(volume_l: float) -> float:
    """Heat capacity (J/K) of a volume of water."""
    return volume_l * HEAT_CAPACITY_J_PER_L_K
