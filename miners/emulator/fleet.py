"""Many emulated miners in one asyncio process, each on its own loopback address and real ports."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import time
from collections.abc import Iterable, Sequence
from types import TracebackType

from miners.catalogue import MinerSpec
from miners.emulator.identity import DEFAULT_MODEL, Family, find_spec, loopback_ips
from miners.emulator.miner import Clock, EmulatedMiner
from miners.emulator.transport import MinerHost

log = logging.getLogger("miners.emulator")

#: How often (real seconds) the fleet checks whether a rebooting miner is due back.
SUPERVISE_PERIOD_S = 0.05
#: File descriptors per miner: listeners plus a few connections in flight on each side.
_FDS_PER_MINER = 8


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 16)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("event=fd_limit_unchanged soft=%d hard=%d error=%s", soft, hard, exc)
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class EmulatorFleet:
    """Owns the miners' listeners. Use `async with EmulatorFleet(...)`, or `start()` and `stop()`."""

    def __init__(self, miners: Iterable[EmulatedMiner]) -> None:
        self.miners: list[EmulatedMiner] = list(miners)
        ips = [m.ip for m in self.miners]
        if len(set(ips)) != len(ips):
            raise ValueError("two emulated miners share an IP address")
        self._hosts = [MinerHost(m) for m in self.miners]
        self._supervisor: asyncio.Task[None] | None = None
        self.start_s: float | None = None  # wall time the last start() took

    @classmethod
    def build(
        cls,
        count: int,
        *,
        family: Family | None = None,
        model: str | MinerSpec | None = None,
        first_ip: str = "127.0.1.1",
        clock: Clock = time.monotonic,
        coolant_inlet_c: float = 35.0,
    ) -> EmulatorFleet:
        """`count` identical miners from `first_ip` upward (skipping .0 and .255)."""
        if count < 1:
            raise ValueError("count must be at least 1")
        if model is None:
            model = DEFAULT_MODEL[family or "whatsminer"]
        spec = model if isinstance(model, MinerSpec) else find_spec(model)
        return cls(
            EmulatedMiner(spec, ip, family=family, clock=clock, coolant_inlet_c=coolant_inlet_c)
            for ip in loopback_ips(first_ip, count)
        )

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Bind every miner's ports; on failure nothing stays bound and the OSError says where."""
        t0 = time.perf_counter()
        fds = raise_fd_limit()
        if fds < len(self.miners) * _FDS_PER_MINER:
            log.warning("event=fd_limit_low soft=%d miners=%d", fds, len(self.miners))
        try:
            # Binding is quick and local: do it in order, so an error names the first bad address.
            for host in self._hosts:
                await host.start()
        except BaseException:
            await self.stop()
            raise
        self._supervisor = asyncio.get_running_loop().create_task(self._supervise())
        self.start_s = time.perf_counter() - t0
        log.info("event=fleet_started miners=%d seconds=%.2f", len(self.miners), self.start_s)

    async def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        for host in self._hosts:
            await host.stop()
        # Let aborted connections run their connection_lost callbacks before the loop may close.
        await asyncio.sleep(0)

    async def __aenter__(self) -> EmulatorFleet:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _supervise(self) -> None:
        # A reboot ends on the miners' clock, which may be virtual: look regularly rather than sleep.
        while True:
            await asyncio.sleep(SUPERVISE_PERIOD_S)
            for miner in self.miners:
                if miner.down_until_s is not None:
                    _ = miner.fault  # completes the reboot when due and reopens the ports

    async def settle(self) -> None:
        """Complete the reboots that are due on the miners' clock and wait until every port is in
        step with its miner. Simulations on virtual time call this after advancing the clock."""
        for miner in self.miners:
            if miner.down_until_s is not None:
                _ = miner.fault
        await asyncio.gather(*(host.settled() for host in self._hosts))

    # ------------------------------------------------------------------ access
    @property
    def ips(self) -> list[str]:
        return [m.ip for m in self.miners]

    def miner(self, ip: str) -> EmulatedMiner:
        for m in self.miners:
            if m.ip == ip:
                return m
        raise KeyError(f"no emulated miner at {ip}")

    def host(self, miner: EmulatedMiner) -> MinerHost:
        return self._hosts[self.miners.index(miner)]

    def set_coolant_inlet(self, coolant_in_c: float, miners: Sequence[EmulatedMiner] | None = None) -> None:
        """Set the coolant inlet °C of every miner (or of `miners`); the plant simulation calls this."""
        for m in self.miners if miners is None else miners:
            m.coolant_inlet_c = coolant_in_c

    def total_power_w(self) -> float:
        return sum(m.readings().power_w for m in self.miners)
