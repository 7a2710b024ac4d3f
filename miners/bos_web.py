"""pyasic's BOS+ gRPC client, keeping one connection per miner and reading the polled replies raw.

pyasic 0.79's `BOSerWebAPI.send_command` opens a new grpclib `Channel` (a TCP connection and an
HTTP/2 handshake) for every call and `_get_auth` another for every login, and every reply is
decoded by betterproto. `PersistentBOSerWebAPI` is a drop-in subclass that keeps one channel for
the handle's life (grpclib reconnects it on the next call after the connection drops; a call that
fails on the connection or is abandoned at its deadline closes it, so the next starts afresh), logs in
once when several calls need a token at the same time, and decodes the three replies read every
poll (`GetMinerStats`, `GetActivePerformanceMode`, `GetHashboards`) from their bytes
(`miners.bos_replies`) into the same dicts pyasic's readers expect. Every other call goes through
pyasic's generated stub as before. `close()` ends the connection; the link owning the handle calls
it when the miner is identified again or dropped. See docs/pyasic-notes.md (row 22, upstream fix 13).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import betterproto
from grpclib import GRPCError, Status
from grpclib.client import Channel, UnaryUnaryMethod
from grpclib.const import Cardinality
from grpclib.exceptions import StreamTerminatedError
from pyasic.errors import APIError
from pyasic.web.braiins_os.boser import BOSerWebAPI, BOSMinerGRPCStub
from pyasic.web.braiins_os.proto.braiins.bos import v1 as bos

from miners.bos_replies import decode_reply

T = TypeVar("T")
_LOGIN = "/braiins.bos.v1.AuthenticationService/Login"
_STATS = "/braiins.bos.v1.MinerService/GetMinerStats"
_HASHBOARDS = "/braiins.bos.v1.MinerService/GetHashboards"
_PERFORMANCE_MODE = "/braiins.bos.v1.PerformanceService/GetActivePerformanceMode"


class _Raw:
    """A message grpclib's codec passes through as bytes: it calls `SerializeToString` on a request
    and the reply type's `FromString`. The polled requests are empty messages, so sending b""
    spares betterproto's serialiser (0.1 ms a call)."""

    def __init__(self, data: bytes = b"") -> None:
        self.data = data

    def SerializeToString(self) -> bytes:  # the protobuf names grpclib calls
        return self.data

    @staticmethod
    def FromString(data: bytes) -> bytes:
        return data


_EMPTY = _Raw()


class PersistentBOSerWebAPI(BOSerWebAPI):
    """`BOSerWebAPI` over one long-lived channel, with raw decoding of the polled replies."""

    def __init__(self, ip: str) -> None:
        super().__init__(ip)
        self._channel: Channel | None = None
        self._stub: BOSMinerGRPCStub | None = None
        self._login_lock = asyncio.Lock()

    @classmethod
    def replacing(cls, web: BOSerWebAPI) -> PersistentBOSerWebAPI:
        """A handle to the same miner, with the same address, port, login and token as `web`."""
        new = cls(str(web.ip))
        new.port, new.username, new.pwd = web.port, web.username, web.pwd
        new.token, new._auth_time = web.token, web._auth_time
        return new

    # ------------------------------------------------------------------ the connection
    @property
    def channel(self) -> Channel:
        """The miner's channel, created on first use (grpclib connects it on the first call)."""
        if self._channel is None:
            self._channel = Channel(str(self.ip), self.port)
            self._stub = BOSMinerGRPCStub(self._channel)
        return self._channel

    def close(self) -> None:
        """Close the connection; the handle stays usable and reconnects on its next call."""
        channel, self._channel, self._stub = self._channel, None, None
        if channel is not None:
            channel.close()

    def __del__(self) -> None:
        # A handle dropped without close(): end the connection quietly rather than let grpclib's
        # Channel.__del__ report an "Unclosed connection" through the event loop.
        channel = getattr(self, "_channel", None)
        if channel is not None and not channel._loop.is_closed():
            channel.close()

    # ------------------------------------------------------------------ calls
    async def send_command(
        self,
        command: str,
        ignore_errors: bool = False,
        allow_warning: bool = True,
        privileged: bool = False,
        **parameters: Any,
    ) -> dict:
        """pyasic's `send_command` (same errors, same re-login), on the persistent channel."""
        message: betterproto.Message = parameters["message"]
        _ = self.channel
        endpoint = getattr(self._stub, command, None)
        if endpoint is None:
            if not ignore_errors:
                raise APIError(f"Command not found - {command}")
            return {}
        reply = await self._call(command, privileged, lambda metadata: endpoint(message, metadata=metadata))
        return reply.to_pydict()

    async def _raw(self, path: str) -> dict:
        """Call a method whose request is an empty message and decode its reply from the bytes."""
        method = UnaryUnaryMethod(self.channel, path, _Raw, _Raw)
        data: bytes = await self._call(path, True, lambda metadata: method(_EMPTY, metadata=metadata))
        try:
            return decode_reply(path, data)
        except ValueError as error:
            raise APIError(f"gRPC reply could not be decoded - {path}: {error}") from error

    async def _call(
        self, what: str, privileged: bool, invoke: Callable[[list[tuple[str, str]]], Awaitable[T]]
    ) -> T:
        try:
            return await self._call_with_login(what, privileged, invoke)
        except APIError as error:
            if not isinstance(error.__cause__, GRPCError):  # the connection failed, not the call
                self.close()
            raise
        except (ConnectionError, StreamTerminatedError):  # during the login
            self.close()
            raise
        except asyncio.CancelledError:
            # Abandoned at the caller's deadline: the connection may be stalled behind this call,
            # so the next call starts on a fresh one rather than queue behind it.
            self.close()
            raise

    async def _call_with_login(
        self, what: str, privileged: bool, invoke: Callable[[list[tuple[str, str]]], Awaitable[T]]
    ) -> T:
        # As pyasic: a login failure before the call raises as it is; a refused token is renewed
        # once; the call's gRPC and connection errors become APIError with the cause chained.
        metadata: list[tuple[str, str]] = []
        if privileged:
            metadata.append(("authorization", await self.auth() or ""))
        try:
            try:
                return await invoke(metadata)
            except GRPCError as error:
                if error.status != Status.UNAUTHENTICATED:
                    raise
                token = await self._login_again(dict(metadata).get("authorization"))
                return await invoke([("authorization", token or "")])
        except (GRPCError, ConnectionError, StreamTerminatedError) as error:
            raise APIError(f"gRPC command failed - {what}") from error

    # ------------------------------------------------------------------ login
    async def auth(self) -> str | None:
        """The cached token, or one fresh login shared by every call waiting for it."""
        async with self._login_lock:
            return await super().auth()

    async def _login_again(self, refused: str | None) -> str | None:
        async with self._login_lock:
            if self.token is None or self.token == refused:  # nobody renewed it meanwhile
                await self._get_auth()
            return self.token

    async def _get_auth(self) -> str | None:
        """pyasic's login (the token arrives in the initial metadata), on the persistent channel."""
        request = bos.LoginRequest(username=self.username, password=self.pwd)
        async with self.channel.request(
            _LOGIN, Cardinality.UNARY_UNARY, bos.LoginRequest, _Raw
        ) as stream:
            await stream.send_message(request, end=True)
            await stream.recv_initial_metadata()
            token = None if stream.initial_metadata is None else stream.initial_metadata.get("authorization")
            await stream.recv_message()
        if not isinstance(token, str):
            return None
        self.token, self._auth_time = token, datetime.now()  # naive, as pyasic compares it
        return self.token

    # ------------------------------------------------------------------ the replies read every poll
    # Their requests (GetMinerStatsRequest, GetHashboardsRequest, GetPerformanceModeRequest) have no fields.
    async def get_miner_stats(self) -> dict:
        return await self._raw(_STATS)

    async def get_hashboards(self) -> dict:
        return await self._raw(_HASHBOARDS)

    async def get_active_performance_mode(self) -> dict:
        return await self._raw(_PERFORMANCE_MODE)
