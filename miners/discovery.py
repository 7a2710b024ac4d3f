"""Find the miners on a network range, with bounded concurrency and file descriptors.

pyasic's `get_miner_generator(limit=…)` creates every task before taking its semaphore, so the
limit bounds nothing and a /16 scan opens tens of thousands of sockets (pyasic #138, "Too many
open files"). Here a fixed pool of workers pulls addresses from a lazy iterator: at most
`concurrency` probes are in flight, each opening at most `SOCKETS_PER_PROBE` sockets.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import resource
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from miners.config import Credentials, MinerConfig
from miners.driver_link import Connector, Identity, MinerLink, Sample, close_link
from miners.fleet import within

log = logging.getLogger(__name__)

#: pyasic's identification opens http, https, two 4028 probes and a 4433 probe at once, then the
#: model and version lookups; a reading adds up to three more. Rounded up.
SOCKETS_PER_PROBE = 8
#: Descriptors left for everything else the process does (logs, MQTT, the event loop).
FD_RESERVE = 64
#: Largest range scanned in one go; a bigger one is almost certainly a typo.
MAX_ADDRESSES = 65_536


@dataclass(frozen=True, slots=True)
class FoundMiner:
    """One miner that answered: who it is and, if it could be read, what it is doing."""

    identity: Identity
    sample: Sample | None
    error: str | None = None


def addresses(cidr: str) -> Iterator[str]:
    """The host addresses of `cidr`, lazily; ValueError for a malformed or too large range."""
    network = ipaddress.ip_network(cidr.strip(), strict=False)
    if network.num_addresses > MAX_ADDRESSES:
        raise ValueError(f"{cidr} has {network.num_addresses} addresses, more than {MAX_ADDRESSES}")
    return (str(ip) for ip in network.hosts())


def fd_bounded_concurrency(requested: int) -> int:
    """`requested`, lowered so that the probes in flight cannot exhaust the descriptor limit."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return max(1, requested)
    return max(1, min(requested, (soft - FD_RESERVE) // SOCKETS_PER_PROBE))


async def probe(
    connector: Connector, ip: str, timeout_s: float, read: bool = True, credentials: Credentials | None = None
) -> FoundMiner | None:
    """Identify (and optionally read) what answers at `ip`; None when nothing recognisable does."""
    try:
        link = await within(connector.connect(ip, credentials or Credentials()), timeout_s)
    except Exception as error:  # one odd host must not end the scan
        log.debug("event=probe_failed ip=%s error=%s", ip, error)
        return None
    if link is None:
        return None
    try:
        return await _describe(link, ip, timeout_s, read)
    finally:
        close_link(link)  # a BOS+ link keeps its gRPC connection open until closed


async def _describe(link: MinerLink, ip: str, timeout_s: float, read: bool) -> FoundMiner:
    try:
        identity = await within(link.identity(), timeout_s)
    except Exception as error:  # e.g. a login it refuses: still a miner, listed with the reason
        log.info("event=identity_failed ip=%s error=%s", ip, error)
        return FoundMiner(link.describe(), None, f"{type(error).__name__}: {error}")
    if not read:
        return FoundMiner(identity, None)
    try:
        sample = await within(link.read(), timeout_s)
    except Exception as error:
        return FoundMiner(identity, None, f"{type(error).__name__}: {error}")
    return FoundMiner(identity, sample)


async def scan(
    cidr: str,
    *,
    concurrency: int = 64,
    timeout_s: float = 10.0,
    read: bool = True,
    connector: Connector | None = None,
    credentials: Credentials | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[FoundMiner]:
    """Every miner answering in `cidr`, sorted by address. `on_progress(done, total)` after each host.

    `credentials` (default: each firmware's factory login) are tried on every miner found."""
    hosts = addresses(cidr)
    total = sum(1 for _ in addresses(cidr))
    if connector is None:
        from miners.driver_pyasic import PyasicConnector  # pyasic only when really scanning

        connector = PyasicConnector()
    workers = min(fd_bounded_concurrency(concurrency), max(total, 1))
    found: list[FoundMiner] = []
    done = 0

    async def worker() -> None:
        nonlocal done
        for ip in hosts:  # a shared iterator: each address goes to exactly one worker
            result = await probe(connector, ip, timeout_s, read, credentials)
            if result is not None:
                found.append(result)
            done += 1
            if on_progress is not None:
                on_progress(done, total)

    async with asyncio.TaskGroup() as group:
        for _ in range(workers):
            group.create_task(worker())
    found.sort(key=lambda f: ipaddress.ip_address(f.identity.ip))
    log.info("event=scan_done cidr=%s hosts=%d found=%d concurrency=%d", cidr, total, len(found), workers)
    return found


def match_to_configs(configs: Sequence[MinerConfig], found: Iterable[Identity]) -> dict[str, Identity]:
    """Which found miner is which configured one: by MAC, else by serial, else by address.

    A miner whose DHCP address changed is still matched by MAC or serial, so it is never taken
    for a new miner; each found miner matches at most one configured name.
    """
    pool = list(found)
    taken: set[int] = set()
    matches: dict[str, Identity] = {}
    rules: tuple[Callable[[MinerConfig, Identity], bool], ...] = (
        lambda c, i: c.mac is not None and i.mac is not None and c.mac == i.mac.upper(),
        lambda c, i: c.serial is not None and i.serial is not None and c.serial == i.serial,
        # An address alone identifies only a miner that was configured without MAC or serial.
        lambda c, i: c.mac is None and c.serial is None and c.host is not None and c.host == i.ip,
    )
    for rule in rules:
        for config in configs:
            if config.name in matches:
                continue
            for index, identity in enumerate(pool):
                if index not in taken and rule(config, identity):
                    matches[config.name] = identity
                    taken.add(index)
                    break
    return matches
