"""The seam between the fleet logic and one miner's protocol: what a link can do and what it returns.

`PyasicFleet` talks to miners only through these; `miners.driver_pyasic` implements them over
pyasic, and tests may stand in a scripted link to reach cases a real miner cannot show on demand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from miners.config import Credentials


class MinerCommandError(Exception):
    """A read or command that failed or cannot be trusted; the message says why."""


class MinerAuthError(MinerCommandError):
    """The miner refused our credentials; retrying with the same ones cannot help."""


class MinerIdentityError(MinerCommandError):
    """A different miner answers at the configured address."""


@dataclass(frozen=True, slots=True)
class Sample:
    """The fields of one successful read, in the project's units; None when not reported."""

    power_w: float | None
    hashrate_ths: float | None
    power_limit_w: float | None
    coolant_in_c: float | None
    coolant_out_c: float | None
    mining: bool | None
    errors: tuple[str, ...]
    uptime_s: float | None


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a miner is (to match it to the config) and what it is (for the discovery table)."""

    ip: str
    make: str | None
    model: str | None
    firmware: str | None
    fw_version: str | None
    mac: str | None
    serial: str | None
    supports_power_limit: bool


class MinerLink(Protocol):
    """One reachable, identified miner. Methods raise `MinerCommandError` (or an OS error) on failure."""

    @property
    def family(self) -> str: ...

    def describe(self) -> Identity:
        """What the miner is, as far as known without asking it (MAC and serial unknown)."""
        ...

    async def identity(self) -> Identity: ...

    async def read(self) -> Sample: ...

    async def set_power_limit(self, watts: int) -> None: ...

    async def stop_mining(self) -> None: ...

    async def resume_mining(self) -> None: ...


@runtime_checkable
class ClosableLink(Protocol):
    """A link that keeps a connection open between calls (BOS+ gRPC) and must end it when dropped."""

    def close(self) -> None: ...


def close_link(link: object) -> None:
    """End the connection `link` keeps open, if it keeps one."""
    if isinstance(link, ClosableLink):
        link.close()


class Connector(Protocol):
    """Finds what answers at an address; None when nothing recognisable does."""

    async def connect(self, host: str, credentials: Credentials) -> MinerLink | None: ...
