"""Protocol-faithful miner emulator: Whatsminer API v2/v3 and Braiins OS+ on loopback, for pyasic.

    fleet = EmulatorFleet.build(3, family="braiins", first_ip="127.0.2.1")
    async with fleet:
        miner = await pyasic.get_miner("127.0.2.1")   # BOSMinerS21Hydro
        fleet.miners[0].set_fault(Slow(5.0))

See docs/emulator.md.
"""

from miners.emulator.faults import (
    Disconnect,
    Fault,
    Garbage,
    Reboot,
    Slow,
    Truncated,
    Unreachable,
    WrongPassword,
)
from miners.emulator.fleet import EmulatorFleet, raise_fd_limit
from miners.emulator.identity import FAMILIES, Family, loopback_ips
from miners.emulator.miner import EmulatedMiner, PowerLimitRejected, Readings

__all__ = [
    "FAMILIES",
    "Disconnect",
    "EmulatedMiner",
    "EmulatorFleet",
    "Family",
    "Fault",
    "Garbage",
    "PowerLimitRejected",
    "Readings",
    "Reboot",
    "Slow",
    "Truncated",
    "Unreachable",
    "WrongPassword",
    "loopback_ips",
    "raise_fd_limit",
]
