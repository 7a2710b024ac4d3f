"""Where `boiler demo` puts its emulated miners: free loopback addresses, found by binding."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from boiler.service.addresses import (
    AddressError,
    AddressesBusy,
    busy_endpoints,
    choose_addresses,
    miner_ports,
    parse_first_ip,
)
from miners.emulator import EmulatedMiner, EmulatorFleet
from miners.emulator.identity import FAMILIES, family_ports
from tests.loopback import claim_net

NET = claim_net()  # a /16 of this run's own; blocks inside it per test
MODELS = ["s21-hyd", "m63s-plus-plus"]  # braiins: 4028 + 50051; whatsminer-v3: 4028 + 4433


@pytest.fixture
def holder() -> Iterator[list[socket.socket]]:
    """Listening sockets that stand for another process holding addresses."""
    socks: list[socket.socket] = []
    yield socks
    for sock in socks:
        sock.close()


def hold(socks: list[socket.socket], ip: str, port: int) -> None:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((ip, port))
    sock.listen()
    socks.append(sock)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("banana", "'banana' is not an IPv4 address"),
        ("127.0.1.300", "is not an IPv4 address"),
        ("::1", "is not an IPv4 address"),
        ("192.168.1.10", "loopback only"),
        ("127.255.255.254", "do not fit"),
    ],
)
def test_bad_first_addresses_say_what_is_allowed(text: str, message: str) -> None:
    with pytest.raises(AddressError, match=message):
        parse_first_ip(text, 2)


async def test_the_ports_probed_are_the_ports_the_emulator_binds() -> None:
    for third, family in enumerate(FAMILIES, start=1):
        model = {"braiins": "s21-hyd", "whatsminer": "m53s-plus-plus", "whatsminer-v3": "m63s-plus-plus"}[family]
        emu = EmulatedMiner(model, f"{NET}.{third}.1", family=family)
        async with EmulatorFleet([emu]) as fleet:
            assert family_ports(family) == fleet.host(emu).ports
            assert busy_endpoints([emu.ip], [family_ports(family)]) != []  # held while it runs
        assert busy_endpoints([emu.ip], [family_ports(family)]) == []


def test_free_addresses_are_used_as_given(holder: list[socket.socket]) -> None:
    choice = choose_addresses(MODELS, f"{NET}.10.1")
    assert (choice.first_ip, choice.ips, choice.moved_from, choice.notice()) == (
        f"{NET}.10.1", (f"{NET}.10.1", f"{NET}.10.2"), None, None)
    assert miner_ports(MODELS) == ((4028, 50051), (4028, 4433))


def test_a_busy_address_given_by_the_user_is_an_error_naming_the_flag(holder: list[socket.socket]) -> None:
    hold(holder, f"{NET}.20.2", 4433)  # the second miner's API v3 port
    with pytest.raises(AddressesBusy, match=rf"{NET}\.20\.2:4433 is already in use.*--first-ip"):
        choose_addresses(MODELS, f"{NET}.20.1")


def test_a_busy_default_moves_to_the_next_free_block(holder: list[socket.socket],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import boiler.service.addresses as addresses

    monkeypatch.setattr(addresses, "DEFAULT_FIRST_IP", f"{NET}.1.1")
    monkeypatch.setattr(addresses, "_candidate_blocks", lambda count: iter(
        [addresses.ipaddress.IPv4Address(f"{NET}.{b}.1") for b in (2, 3, 4)]))
    hold(holder, f"{NET}.1.1", 4028)
    hold(holder, f"{NET}.2.2", 4433)  # the next block is taken too
    choice = choose_addresses(MODELS, None)
    assert choice.first_ip == f"{NET}.3.1" and choice.moved_from == f"{NET}.1.1"
    assert choice.notice() is not None and f"{NET}.1.1:4028" in choice.notice()  # type: ignore[operator]


def test_other_blocks_are_tried_nearest_first() -> None:
    from itertools import islice

    from boiler.service.addresses import _candidate_blocks

    assert [str(ip) for ip in islice(_candidate_blocks(2), 3)] == ["127.0.2.1", "127.0.3.1", "127.0.4.1"]
    assert [str(ip) for ip in islice(_candidate_blocks(300), 2)] == ["127.0.3.1", "127.0.5.1"]  # two /24 each
