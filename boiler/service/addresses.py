"""Where `boiler demo` puts its emulated miners: loopback addresses that are free on this machine.

The demo's miners listen on consecutive loopback addresses from a first one, on their firmware's
fixed ports (4028, 4433, 50051: pyasic has no port option). When another process holds one of
them (a second demo, `boiler emulate`, a test run), the demo moves to the first free /24 block by
itself if the user did not choose the address; if the user did, it stops and names the flag.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final

from miners.emulator.identity import default_family, family_ports, find_spec

DEFAULT_FIRST_IP: Final = "127.0.1.1"
_LOOPBACK: Final = ipaddress.IPv4Network("127.0.0.0/8")


class AddressError(ValueError):
    """The address given cannot work on this machine (bad input: exit 2)."""


class AddressesBusy(RuntimeError):
    """Another process holds the addresses (exit 1; the message says what to do)."""


@dataclass(frozen=True)
class Endpoint:
    ip: str
    port: int

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class AddressChoice:
    """The first address the miners use, and why it is not the default when it is not."""

    first_ip: str
    ips: tuple[str, ...]
    moved_from: str | None = None
    busy: tuple[Endpoint, ...] = field(default=())

    def notice(self) -> str | None:
        """One line for the user when the demo moved, else None."""
        if self.moved_from is None:
            return None
        taken = ", ".join(map(str, self.busy[:3])) + (" …" if len(self.busy) > 3 else "")
        return (f"{taken} already in use (another demo, emulator or test run?): the emulated miners "
                f"listen on {self.ips[0]}–{self.ips[-1]} instead (choose with --first-ip)")


def parse_first_ip(text: str, count: int) -> ipaddress.IPv4Address:
    """`text` as the first of `count` loopback addresses; AddressError saying what is allowed."""
    try:
        first = ipaddress.IPv4Address(text.strip())
    except ValueError:
        raise AddressError(f"--first-ip {text!r} is not an IPv4 address; give a loopback address "
                           f"such as {DEFAULT_FIRST_IP}") from None
    if first not in _LOOPBACK:
        raise AddressError(f"--first-ip {text}: the demo's emulated miners listen on this machine's "
                           f"loopback only; give an address in 127.0.0.0/8, such as {DEFAULT_FIRST_IP}")
    if int(first) + count - 1 > int(_LOOPBACK.broadcast_address) - 1:
        raise AddressError(f"--first-ip {text}: {count} consecutive addresses do not fit in 127.0.0.0/8")
    return first


def demo_ips(first: ipaddress.IPv4Address, count: int) -> tuple[str, ...]:
    """The addresses the demo gives its miners: consecutive from `first` (as boiler.hil builds them)."""
    return tuple(str(first + i) for i in range(count))


def miner_ports(models: Iterable[str]) -> tuple[tuple[int, ...], ...]:
    """Per configured miner model (catalogue key or model string), the ports its emulator binds."""
    return tuple(family_ports(default_family(find_spec(model))) for model in models)


def busy_endpoints(ips: Sequence[str], ports: Sequence[tuple[int, ...]]) -> list[Endpoint]:
    """The (address, port) pairs another process holds; AddressError if an address is not on this
    machine (some systems configure only 127.0.0.1)."""
    busy = []
    for ip, miner_ports_ in zip(ips, ports, strict=True):
        for port in miner_ports_:
            if not _can_bind(ip, port):
                busy.append(Endpoint(ip, port))
    return busy


def _can_bind(ip: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the emulator binds: SO_REUSEADDR, so a closed demo's TIME_WAIT sockets do not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ip, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            if exc.errno == errno.EADDRNOTAVAIL:
                raise AddressError(f"{ip} is not an address of this machine ({exc.strerror}): add it to the "
                                   f"loopback interface, or pass a --first-ip whose addresses exist") from None
            raise
    return True


def _candidate_blocks(count: int) -> Iterator[ipaddress.IPv4Address]:
    """First addresses of other /24 blocks of loopback, nearest first: 127.0.2.1, 127.0.3.1, …"""
    span = max(1, (count + 253) // 254)  # /24 blocks one fleet needs
    for block in range(1 + span, 256 * 255, span):
        first = ipaddress.IPv4Address(int(_LOOPBACK.network_address) + block * 256 + 1)
        if int(first) + count - 1 < int(_LOOPBACK.broadcast_address):
            yield first


def _first_free_block(count: int, ports: Sequence[tuple[int, ...]], max_tries: int) -> ipaddress.IPv4Address | None:
    for tries, candidate in enumerate(_candidate_blocks(count)):
        if tries >= max_tries:
            return None
        if not busy_endpoints(demo_ips(candidate, count), ports):
            return candidate
    return None


def choose_addresses(models: Sequence[str], first_ip: str | None, *, max_tries: int = 200) -> AddressChoice:
    """Where the miners of `models` will listen. With `first_ip` given, those addresses or
    AddressesBusy; without, the default block, or the first free one after it (`moved_from` set)."""
    count = len(models)
    ports = miner_ports(models)
    wanted = parse_first_ip(first_ip if first_ip is not None else DEFAULT_FIRST_IP, count)
    ips = demo_ips(wanted, count)
    busy = busy_endpoints(ips, ports)
    if not busy:
        return AddressChoice(str(wanted), ips)
    free = _first_free_block(count, ports, max_tries)
    if first_ip is None and free is not None:
        return AddressChoice(str(free), demo_ips(free, count), moved_from=str(wanted), busy=tuple(busy))
    hint = f"pass a free --first-ip, e.g. --first-ip {free}" if free is not None else "pass a free --first-ip"
    raise AddressesBusy(f"{busy[0]} is already in use (another demo, emulator or test run?); stop it or {hint}")
