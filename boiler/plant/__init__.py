"""The simulated plant: tanks, exchanger, coolant loop, miners, gas boiler, loop and draws."""
