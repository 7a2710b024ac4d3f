"""The plant service: `boiler run` (a real plant) and `boiler demo` (everything simulated on one machine)."""
