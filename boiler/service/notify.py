"""systemd notifications (READY, WATCHDOG, STATUS) without a dependency: one datagram per call.

Does nothing when the service does not run under systemd (no NOTIFY_SOCKET).
"""

from __future__ import annotations

import os
import socket


def notify(*lines: str) -> bool:
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # abstract namespace
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall("\n".join(lines).encode())
    except OSError:
        return False
    return True
