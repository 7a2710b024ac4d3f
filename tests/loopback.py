"""Loopback address blocks of this test process's own, so that a demo, an emulator or a second
suite running on the same machine never holds the addresses a test binds its emulated miners to.

`claim_net()` hands out a /16 (`127.X`, X in 40..250; `boiler demo` and `boiler emulate` default to
127.0.x): it binds a claim socket on 127.X.0.1:CLAIM_PORT and keeps it for the life of the process.
Another process claiming the same block fails to bind and moves on to the next one, so two suites
never share a block. Not a test module; import from it explicitly.
"""

from __future__ import annotations

import random
import socket

CLAIM_PORT = 40_999
_claims: list[socket.socket] = []


def claim_net() -> str:
    """A `127.X` prefix no other process on this machine has claimed."""
    for x in random.sample(range(40, 251), k=211):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((f"127.{x}.0.1", CLAIM_PORT))
            sock.listen(1)
        except OSError:
            sock.close()
            continue
        _claims.append(sock)
        return f"127.{x}"
    raise RuntimeError("no free loopback /16 left to claim (127.40-250.x.x all taken)")


_shared: str | None = None
_next_block = iter(range(1, 255))


def first_ip() -> str:
    """A fresh /24's first address inside this process's shared claimed block (for one emulated fleet)."""
    global _shared
    if _shared is None:
        _shared = claim_net()
    return f"{_shared}.{next(_next_block)}.1"
