"""Sockets of one emulated miner: listeners on the family's ports, framing, and fault injection.

Every accepted connection gets a `_Gate` in front of the real protocol (JSON on 4028,
length-prefixed JSON on 4433, grpclib's HTTP/2 on 50051). The gate applies the miner's fault
mode the same way for every port: it holds the request back (Slow), answers garbage, cuts the
reply (Truncated) or resets the connection (Disconnect). Unreachable and Reboot close the
listeners themselves, so clients see a refused connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import struct
from collections.abc import Callable
from typing import Any, Protocol

from grpclib.server import Server as GrpcServer

from miners.emulator.braiins import BraiinsGrpcApi, BraiinsRpcApi, RawProtoCodec
from miners.emulator.faults import GARBAGE_BYTES, Garbage, Slow, Truncated
from miners.emulator.identity import BRAIINS_GRPC_PORT, RPC_PORT, WHATSMINER_V3_PORT
from miners.emulator.miner import EmulatedMiner
from miners.emulator.whatsminer_v2 import WhatsminerV2Api
from miners.emulator.whatsminer_v3 import WhatsminerV3Api

log = logging.getLogger("miners.emulator")

Json = dict[str, Any]
_MAX_REQUEST_BYTES = 1 << 20
_BACKLOG = 128


class JsonApi(Protocol):
    def handle(self, request: Json) -> Json: ...


# ---------------------------------------------------------------------- framing
class JsonRpcProtocol(asyncio.Protocol):
    """cgminer-style TCP API: one JSON request (no delimiter), one JSON reply, then close."""

    def __init__(self, api: JsonApi) -> None:
        self._api = api
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._answered = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._answered:
            return
        self._buffer += data
        try:
            request = json.loads(self._buffer.decode().rstrip("\x00"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            if len(self._buffer) > _MAX_REQUEST_BYTES:
                self._answer(None)
            return
        self._answer(request)

    def eof_received(self) -> bool:
        if not self._answered:
            self._answer(None)
        return True

    def _answer(self, request: object) -> None:
        self._answered = True
        # Answer on the next loop turn, not inside data_received: a reply is the miner's own write.
        asyncio.get_running_loop().call_soon(self._respond, request)

    def _respond(self, request: object) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if isinstance(request, dict):
            try:
                reply = self._api.handle(request)
            except Exception:
                log.exception("event=handler_error port=rpc")
                reply = {"STATUS": [{"STATUS": "E", "Code": 14, "Msg": "internal error"}], "id": 1}
        else:
            reply = {"STATUS": [{"STATUS": "E", "Code": 23, "Msg": "invalid JSON message"}], "id": 1}
        transport.write(json.dumps(reply).encode())
        transport.close()  # clients read until EOF


class LengthPrefixedProtocol(asyncio.Protocol):
    """Whatsminer API v3: 4-byte little-endian length + JSON, both ways; several per connection."""

    def __init__(self, api: JsonApi) -> None:
        self._api = api
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= 4:
            (length,) = struct.unpack_from("<I", self._buffer)
            if length > _MAX_REQUEST_BYTES:
                if self._transport is not None:
                    self._transport.abort()
                return
            if len(self._buffer) < 4 + length:
                return
            frame = bytes(self._buffer[4 : 4 + length])
            del self._buffer[: 4 + length]
            asyncio.get_running_loop().call_soon(self._respond, frame)

    def _respond(self, frame: bytes) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        try:
            request = json.loads(frame)
            if not isinstance(request, dict):
                raise ValueError("not an object")
        except ValueError:
            reply: Json = {"code": -3, "when": 0, "msg": "invalid json", "desc": ""}
        else:
            try:
                reply = self._api.handle(request)
            except Exception:
                log.exception("event=handler_error port=v3")
                reply = {"code": -1, "when": 0, "msg": "internal error", "desc": str(request.get("cmd"))}
        body = json.dumps(reply).encode()
        transport.write(struct.pack("<I", len(body)) + body)


# ---------------------------------------------------------------------- fault gate
class _GatedTransport(asyncio.Transport):
    """What the inner protocol writes to: the real transport, cut short when Truncated is on."""

    def __init__(self, real: asyncio.Transport, gate: _Gate) -> None:
        super().__init__()
        self._real = real
        self._gate = gate
        self._cut = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._cut:
            return
        if self._gate.truncate_next_reply and not self._gate.delivering:
            # The first write the server makes on its own after the request is its reply.
            self._cut = True
            self._real.write(bytes(data)[: max(1, len(data) // 2)])
            self._real.close()
            return
        self._real.write(data)

    def close(self) -> None:
        self._real.close()

    def abort(self) -> None:
        self._real.abort()

    def is_closing(self) -> bool:
        return self._cut or self._real.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._real.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._real.pause_reading()

    def resume_reading(self) -> None:
        self._real.resume_reading()

    def get_write_buffer_size(self) -> int:
        return self._real.get_write_buffer_size()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._real.set_write_buffer_limits(high, low)

    def can_write_eof(self) -> bool:
        return self._real.can_write_eof()

    def write_eof(self) -> None:
        self._real.write_eof()


class _Gate(asyncio.Protocol):
    """Applies the miner's fault mode to one accepted connection, then hands bytes to the protocol.

    The real protocol is created when the first request bytes arrive and the fault mode has
    let them through, so a garbage or delayed answer is the first thing the client sees. On a
    kept-alive connection every later burst of bytes counts as a request while a fault is on.
    """

    def __init__(self, host: MinerHost, inner_factory: Callable[[], asyncio.Protocol]) -> None:
        self._host = host
        self._inner_factory = inner_factory
        self._inner: asyncio.Protocol | None = None
        self._transport: asyncio.Transport | None = None
        self._decided = False
        self._held: list[bytes] | None = None
        self._eof_held = False
        self._timer: asyncio.TimerHandle | None = None
        self.truncate_next_reply = False
        self.delivering = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        if self._host.miner.is_down():
            self.reset()
            return
        self._host.connections.add(self)

    def data_received(self, data: bytes) -> None:
        if self._held is not None:
            self._held.append(data)
            return
        if not self._decided or self._host.miner.fault is not None:
            # The first request of a connection is gated, and so, while a fault is on, is every
            # later burst of bytes on a kept-alive connection (HTTP/2 on 50051 carries many calls).
            self._decided = True
            if not self._admit():
                return
            if self._held is not None:
                self._held.append(data)
                return
        self._deliver(data)

    def eof_received(self) -> bool | None:
        if self._held is not None:
            self._eof_held = True
            return True
        if self._inner is None:
            return None
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._host.connections.discard(self)
        if self._timer is not None:
            self._timer.cancel()
        if self._inner is not None:
            self._inner.connection_lost(exc)
            self._inner = None

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def reset(self) -> None:
        """Drop the connection with a TCP reset, as a miner that falls off the network does."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()

    def _admit(self) -> bool:
        """Decide this connection's fate when its request starts to arrive."""
        miner = self._host.miner
        fault = miner.fault
        assert self._transport is not None
        if not miner.take_request():
            self.reset()  # the miner dropped off mid-poll
            return False
        if isinstance(fault, Garbage):
            self._transport.write(GARBAGE_BYTES)
            self._transport.close()
            return False
        self.truncate_next_reply = isinstance(fault, Truncated)
        if isinstance(fault, Slow) and fault.delay_s > 0:
            self._held = []
            self._timer = asyncio.get_running_loop().call_later(fault.delay_s, self._release)
        return True

    def _release(self) -> None:
        held, self._held, self._timer = self._held or [], None, None
        for chunk in held:
            self._deliver(chunk)
        if self._eof_held and self._inner is not None and not self._inner.eof_received():
            self.reset()

    def _deliver(self, data: bytes) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        self.delivering = True
        try:
            if self._inner is None:
                self._inner = self._inner_factory()
                self._inner.connection_made(_GatedTransport(transport, self))
            self._inner.data_received(data)
        finally:
            self.delivering = False


class _GrpcProtocols:
    """Makes grpclib's HTTP/2 protocol for each connection. We own the listener instead of calling
    `Server.start()`, so the fault gate can sit in front; the grpclib server is created on first
    use because it binds itself to the running event loop."""

    def __init__(self, api: BraiinsGrpcApi) -> None:
        self._api = api
        self._server: GrpcServer | None = None

    def __call__(self) -> asyncio.Protocol:
        if self._server is None:
            self._server = GrpcServer([self._api], codec=RawProtoCodec())
        return self._server._protocol_factory()


# ---------------------------------------------------------------------- one miner's ports
class MinerHost:
    """Binds one miner's ports on its IP and keeps them in step with its fault mode."""

    def __init__(self, miner: EmulatedMiner) -> None:
        self.miner = miner
        self.connections: set[_Gate] = set()
        self._factories = self._protocol_factories(miner)
        self._servers: list[asyncio.AbstractServer] = []
        self._bind_task: asyncio.Task[None] | None = None
        self._running = False

    @property
    def ports(self) -> tuple[int, ...]:
        return tuple(self._factories)

    @staticmethod
    def _protocol_factories(miner: EmulatedMiner) -> dict[int, Callable[[], asyncio.Protocol]]:
        factories: dict[int, Callable[[], asyncio.Protocol]] = {}
        if miner.family == "braiins":
            rpc = BraiinsRpcApi(miner)
            factories[RPC_PORT] = lambda: JsonRpcProtocol(rpc)
            factories[BRAIINS_GRPC_PORT] = _GrpcProtocols(BraiinsGrpcApi(miner))
            return factories
        if miner.family == "whatsminer" or miner.legacy_rpc:
            v2 = WhatsminerV2Api(miner)
            factories[RPC_PORT] = lambda: JsonRpcProtocol(v2)
        if miner.family == "whatsminer-v3":
            v3 = WhatsminerV3Api(miner)
            factories[WHATSMINER_V3_PORT] = lambda: LengthPrefixedProtocol(v3)
        return factories

    async def start(self) -> None:
        """Open the ports (unless the miner is down); OSError names the address that failed."""
        if self._running:
            return
        self._running = True
        self.miner.add_listener(self.sync)
        if not self.miner.is_down():
            await self._bind()

    async def stop(self) -> None:
        """Close the ports and drop live connections; safe to call on a host never started."""
        if self._running:
            self._running = False
            self.miner.remove_listener(self.sync)
        self._unbind()

    def sync(self) -> None:
        """Close the ports at once when the miner goes down; reopen them when it is back."""
        if not self._running:
            return
        if self.miner.is_down():
            self._unbind()
        elif not self._servers and self._bind_task is None:
            self._bind_task = asyncio.get_running_loop().create_task(self._bind_quietly())

    async def _bind_quietly(self) -> None:
        try:
            await self._bind()
        except OSError as exc:
            log.error("event=rebind_failed ip=%s error=%s", self.miner.ip, exc)
        finally:
            self._bind_task = None

    async def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        sockets: list[socket.socket] = []
        try:
            for port in self._factories:
                sockets.append(_listening_socket(self.miner.ip, port))
        except OSError:
            for sock in sockets:
                sock.close()
            raise
        servers: list[asyncio.AbstractServer] = []
        try:
            for port, sock in zip(self._factories, sockets, strict=True):
                factory = self._factories[port]
                servers.append(await loop.create_server(lambda f=factory: _Gate(self, f), sock=sock))  # type: ignore[misc]
        except BaseException:
            for server in servers:
                server.close()
            for sock in sockets[len(servers) :]:
                sock.close()
            raise
        self._servers = servers
        if not self._running or self.miner.is_down():
            self._unbind()

    def _unbind(self) -> None:
        if self._bind_task is not None and self._bind_task is not asyncio.current_task():
            self._bind_task.cancel()
            self._bind_task = None
        for server in self._servers:
            server.close()
        self._servers = []
        for gate in list(self.connections):
            gate.reset()
        self.connections.clear()

    @property
    def bound(self) -> bool:
        return bool(self._servers)

    async def settled(self) -> None:
        """Wait for a pending re-bind to finish."""
        task = self._bind_task
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)


def _listening_socket(ip: str, port: int) -> socket.socket:
    # IPPROTO_TCP (not 0) so that asyncio sets TCP_NODELAY on accepted connections: without it a
    # kept-alive HTTP/2 connection waits ~40 ms (Nagle + delayed ACK) for every reply it writes in parts.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((ip, port))
        sock.listen(_BACKLOG)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {ip}:{port}: {exc.strerror}") from exc
    return sock
