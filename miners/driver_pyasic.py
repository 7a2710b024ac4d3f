"""One miner reached through pyasic 0.79: identify it, read what the controller needs, command it.

This module and its BOS+ gRPC client (`miners/bos_web.py`, `miners/bos_replies.py`) are the only ones
that know pyasic's classes. It works around the pyasic bugs that touch us (docs/pyasic-notes.md);
each workaround is marked `# pyasic:` where it happens. It imposes no timeouts itself: the fleet
runs every call under its own deadline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pyasic
from grpclib import GRPCError, Status
from pyasic.data import MinerData
from pyasic.errors import APIError
from pyasic.miners.backends.braiins_os import BOSer
from pyasic.miners.backends.btminer import BTMinerV2, BTMinerV3
from pyasic.miners.base import MinerProtocol
from pyasic.miners.data import DataOptions
from pyasic.miners.factory import MINER_CLASSES, MinerTypes
from pyasic.rpc.btminer import BTMinerV3RPCAPI
from pyasic.web.braiins_os.proto.braiins.bos.v1 import SaveAction

from miners.bos_web import PersistentBOSerWebAPI
from miners.config import Credentials
from miners.driver_link import Identity, MinerAuthError, MinerCommandError, Sample

log = logging.getLogger(__name__)

# Only what the controller uses: no config, pools, fans or serials on every tick (without
# `include`, get_data also calls get_config: more round-trips, heavy on BOS+).
# The mining state is read directly for the three families we drive (see the readers below).
_WHATSMINER_FIELDS = [
    DataOptions.HASHRATE, DataOptions.WATTAGE, DataOptions.WATTAGE_LIMIT, DataOptions.ENVIRONMENT_TEMP,
    DataOptions.ERRORS, DataOptions.UPTIME,
]
# pyasic: BTMinerV2's multicommand sends a lone joinable command ("summary") unjoined, and its reply
# is then not keyed by command, so every field fetches the summary again: 7 connections per read.
# Asking for one more joinable command ("devs", for the hashboards) makes it "summary+devs": one.
_WHATSMINER_V2_FIELDS = [*_WHATSMINER_FIELDS, DataOptions.HASHBOARDS]
# BOS+: hashboards (for the coolant temperatures) and the tuner state are read directly below.
_BRAIINS_FIELDS = [
    DataOptions.HASHRATE, DataOptions.WATTAGE, DataOptions.WATTAGE_LIMIT, DataOptions.ERRORS, DataOptions.UPTIME,
]
_OTHER_FIELDS = [*_WHATSMINER_FIELDS, DataOptions.IS_MINING]
#: Any firmware date after 2024-11 makes pyasic pick the API v3 class for a Whatsminer.
_WHATSMINER_V3_VERSION = "20250101.00.Rel"
#: API v3 reply code for a refused token ("access denied").
_V3_ACCESS_DENIED = -4
_PYASIC_ERRORS = (APIError, GRPCError, OSError, ValueError, LookupError, TypeError, AttributeError)


def family(miner: MinerProtocol) -> str:
    """Short name of the firmware family, for logs and for choosing workarounds."""
    if isinstance(miner, BTMinerV3):
        return "whatsminer-v3"
    if isinstance(miner, BTMinerV2):
        return "whatsminer-v2"
    if isinstance(miner, BOSer):
        return "braiins"
    return type(miner).__name__


def supports_power_limit(miner: MinerProtocol) -> bool:
    """True when the class overrides the base `set_power_limit`, which only returns False."""
    return type(miner).set_power_limit is not MinerProtocol.set_power_limit


def apply_credentials(miner: MinerProtocol, credentials: Credentials) -> None:
    """Put the configured login on the pyasic handle; absent fields keep pyasic's defaults."""
    password = None if credentials.password is None else credentials.password.get_secret_value()
    if isinstance(miner, BTMinerV2 | BTMinerV3):
        if password is not None:
            miner.rpc.pwd = password
        return
    # pyasic: BOSerWebAPI reads the setting "default_bosminer_password", which does not exist (the
    # setting is "default_bosminer_web_password"), so only the handle's attribute works.
    web = getattr(miner, "web", None)
    if web is not None:
        if password is not None:
            web.pwd = password
        if credentials.username is not None:
            web.username = credentials.username


# ---------------------------------------------------------------------------------- identification


class BOSerUnknown(BOSer):
    """Braiins OS+ (gRPC era) on a model pyasic 0.79 has no class for (e.g. Antminer S21 XP Hyd.)."""


async def identify(ip: str) -> MinerProtocol | None:
    """Ask pyasic what answers at `ip`; None when nothing recognisable does."""
    miner = await pyasic.get_miner(ip)
    if type(miner) is MINER_CLASSES[MinerTypes.BRAIINS_OS][None] and await _speaks_boser(miner):
        # pyasic: a BOS+ model it has no class for gets the legacy pre-gRPC class (GraphQL, luci),
        # which can neither read nor command current BOS+; the generic gRPC class can.
        miner = BOSerUnknown(ip)
        log.info("event=reclassified ip=%s class=%s", ip, type(miner).__name__)
    if isinstance(miner, BTMinerV2) and not await _v2_answers(miner):
        # pyasic: a Whatsminer with only API v3 open (4028 closed) is found by its 4433 probe, but
        # the firmware version is only asked on 4028, so pyasic builds the v2 class and nothing works.
        version = await _v3_firmware(ip)
        if version is not None:
            miner = _whatsminer_v3(miner, version)
            log.info("event=reclassified ip=%s class=%s", ip, type(miner).__name__)
    return miner


async def _speaks_boser(miner: MinerProtocol) -> bool:
    """True when the RPC `version` names BOSer, the gRPC-era Braiins OS+ firmware."""
    try:
        reply = await miner.rpc.version()  # type: ignore[union-attr]
    except _PYASIC_ERRORS:
        return False
    return "BOSER" in str(reply).upper()


async def _v2_answers(miner: BTMinerV2) -> bool:
    try:
        reply = await miner.rpc.get_version()
    except _PYASIC_ERRORS:
        return False
    return isinstance(reply, dict) and reply.get("STATUS") == "S"


async def _v3_firmware(ip: str) -> str | None:
    """The firmware version a Whatsminer reports on API v3 (TCP 4433), or None if nothing answers."""
    try:
        reply = await BTMinerV3RPCAPI(ip).get_device_info()
        return str(reply["msg"]["system"]["fwversion"])
    except (*_PYASIC_ERRORS, KeyError):
        return None


def _whatsminer_v3(miner: MinerProtocol, version: str) -> MinerProtocol:
    # BTMiner.__new__ built the instance's class under the registry class's name; find that one.
    classes = MINER_CLASSES[MinerTypes.WHATSMINER]
    cls = next((c for c in classes.values() if c.__name__ == type(miner).__name__), classes[None])
    if not (version[:8].isdigit() and version[:8] > "20241100"):
        version = _WHATSMINER_V3_VERSION  # it answered on v3, so it is v3 whatever its date says
    return cls(str(miner.ip), version)


def describe(miner: MinerProtocol) -> Identity:
    """What pyasic's class says the miner is, without asking it anything (no MAC or serial)."""
    return Identity(
        ip=str(miner.ip),
        make=None if miner.make is None else str(miner.make),
        model=None if miner.raw_model is None else str(miner.raw_model),
        firmware=None if miner.firmware is None else str(miner.firmware),
        fw_version=None,
        mac=None,
        serial=None,
        supports_power_limit=supports_power_limit(miner),
    )


async def read_identity(miner: MinerProtocol) -> Identity:
    """MAC, serial and firmware version (an extra read: done at connect, not every tick)."""
    fields = [DataOptions.MAC, DataOptions.SERIAL_NUMBER, DataOptions.FW_VERSION]
    try:
        data = await miner.get_data(include=fields)
    except APIError as error:
        if _grpc_status(error) is Status.UNAUTHENTICATED:  # BOS+ needs a login even to say who it is
            raise MinerAuthError("identity: login refused: wrong username or password") from error
        raise MinerCommandError(f"identity: {_root_cause(error)}") from error
    mac = None if data.mac is None else str(data.mac).upper()
    return replace(describe(miner), fw_version=data.fw_ver, mac=mac, serial=data.serial_number)


# ----------------------------------------------------------------------------------------- reading


async def read_sample(miner: MinerProtocol) -> Sample:
    """One poll of the fields the controller needs. Raises when the miner gave nothing usable."""
    coolant_out: float | None = None
    known = True
    if isinstance(miner, BTMinerV3):
        data, mining = await asyncio.gather(miner.get_data(include=_WHATSMINER_FIELDS), _v3_working(miner))
        coolant_in = data.env_temp
    elif isinstance(miner, BTMinerV2):
        data, mining = await asyncio.gather(miner.get_data(include=_WHATSMINER_V2_FIELDS), _v2_working(miner))
        coolant_in = data.env_temp
    elif isinstance(miner, BOSer):
        data, mining, (coolant_in, coolant_out) = await _bos_read(miner)
    else:
        data = await miner.get_data(include=_OTHER_FIELDS)
        mining, coolant_in, known = data.is_mining, data.env_temp, False
    hashrate = None if data.hashrate is None else float(data.hashrate)
    # pyasic turns a failed, reset or truncated reply into missing fields (or repairs truncated
    # JSON into a shorter object) instead of raising: a partial reading is no reading.
    required = {"power": data.wattage, "hashrate": hashrate, "power limit": data.wattage_limit,
                "mining state": mining}
    missing = [name for name, value in required.items() if value is None and (known or name == "power")]
    if missing:
        raise MinerCommandError(f"incomplete answer, missing {', '.join(missing)} (reply refused, "
                                "cut or unreadable)")
    return Sample(
        power_w=_float(data.wattage),
        hashrate_ths=hashrate,
        power_limit_w=_float(data.wattage_limit),
        # Hydro Whatsminers report the coolant inlet as "Env Temp" (and no outlet).
        coolant_in_c=_float(coolant_in),
        coolant_out_c=coolant_out,
        mining=mining,
        errors=_errors_text(data),
        uptime_s=_float(data.uptime),
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _errors_text(data: MinerData) -> tuple[str, ...]:
    # pyasic: BTMinerV2 reports each error twice (get_error_code and the summary), so deduplicate.
    seen: dict[str, None] = {}
    for error in data.errors or []:
        code = getattr(error, "error_code", None)
        message = getattr(error, "error_message", None)
        seen.setdefault(f"{code}: {message}" if code is not None else str(message), None)
    return tuple(seen)


async def _v2_working(miner: BTMinerV2) -> bool | None:
    # pyasic: BTMinerV2._is_mining returns False when the `status` reply cannot be read, so a
    # reset connection would show a miner drawing kilowatts as stopped. Read it here, or fail.
    try:
        reply = await miner.rpc.status()
    except APIError as error:
        raise MinerCommandError(f"status: {error}") from error
    try:
        return str(reply["Msg"]["mineroff"]).lower() == "false"
    except (KeyError, TypeError):
        return None


async def _v3_working(miner: BTMinerV3) -> bool | None:
    # pyasic: BTMinerV3 has no is_mining data location, so MinerData.is_mining stays True even
    # when stopped; the device info's `miner.working` is the truth.
    reply = await miner.rpc.get_device_info()
    try:
        return str(reply["msg"]["miner"]["working"]).lower() == "true"
    except (KeyError, TypeError):
        return None


async def _bos_read(miner: BOSer) -> tuple[MinerData, bool | None, tuple[float | None, float | None]]:
    """The fields of `get_data(include=_BRAIINS_FIELDS)`, parsed by pyasic's own BOSer readers, with
    `summary+tunerstatus` fetched once, on one cgminer connection, for the hashrate, uptime, errors
    and the mining state (through get_data the mining state needed a second `tunerstatus`).
    Also the mining state and the coolant temperatures."""
    rpc, stats, mode, coolant = await asyncio.gather(
        _bos_rpc(miner), _or_none(miner.web.get_miner_stats()), _or_none(miner.web.get_active_performance_mode()),
        _bos_coolant(miner),
    )
    summary, tuner = _first(rpc, "summary"), _first(rpc, "tunerstatus")
    if tuner is None:
        raise MinerCommandError("tunerstatus: no answer")
    data = MinerData(ip=str(miner.ip))
    if summary is not None:
        data.hashrate = await miner._get_hashrate(rpc_summary=summary)
        data.uptime = await miner._get_uptime(rpc_summary=summary)
    if stats is not None:
        data.wattage = await miner._get_wattage(grpc_miner_stats=stats)
    if mode is not None:
        data.wattage_limit = await miner._get_wattage_limit(grpc_active_performance_mode=mode)
    data.errors = await miner._get_errors(rpc_tunerstatus=tuner)
    return data, _bos_tuner_running(tuner), coolant


async def _bos_rpc(miner: BOSer) -> dict[str, Any]:
    try:
        return await miner.rpc.multicommand("summary", "tunerstatus")
    except APIError as error:
        raise MinerCommandError(f"summary+tunerstatus: {error}") from error


async def _or_none(call: Awaitable[dict[str, Any]]) -> dict[str, Any] | None:
    # As get_data: a failed web call leaves its fields empty (then the reading is incomplete).
    try:
        return await call
    except APIError:
        return None


def _first(reply: dict[str, Any], command: str) -> dict[str, Any] | None:
    try:
        first = reply[command][0]
    except (KeyError, IndexError, TypeError):
        return None
    return first if isinstance(first, dict) else None


def _bos_tuner_running(tunerstatus: dict[str, Any]) -> bool | None:
    # pyasic: BOSer.is_mining is "some board hashes", which is False while the tuner restarts
    # after a power-target change or a wake; paused (tuner stopped, no chain status) is the truth.
    try:
        return bool(tunerstatus["TUNERSTATUS"][0]["TunerChainStatus"])
    except (KeyError, IndexError, TypeError):
        return None


async def _bos_coolant(miner: BOSer) -> tuple[float | None, float | None]:
    # pyasic: BOSer parses hashboards but drops the hydro boards' inlet and outlet temperatures.
    # This call needs a login, so it is also where a wrong password shows when polling.
    reply = await _bos_write("get_hashboards", miner.web.get_hashboards())
    boards = reply.get("hashboards", [])
    inlets = [b["lowestInletTemp"]["degreeC"] for b in boards if "degreeC" in b.get("lowestInletTemp", {})]
    outlets = [b["highestOutletTemp"]["degreeC"] for b in boards if "degreeC" in b.get("highestOutletTemp", {})]
    return (min(inlets) if inlets else None, max(outlets) if outlets else None)


# --------------------------------------------------------------------------------------- commanding


def _short(reply: Any) -> str:
    text = repr(reply)
    return text if len(text) <= 160 else text[:157] + "..."


async def _v2_write(what: str, miner: BTMinerV2, send: Callable[[], Awaitable[Any]]) -> None:
    # pyasic: BTMinerV2.set_power_limit/stop_mining/resume_mining turn failures into False (or, for
    # a reply it cannot decrypt, an AttributeError) and drop the reason; call the RPC and read it.
    try:
        try:
            reply = await send()
        except APIError as error:
            if "check token err" not in str(error):
                raise
            # pyasic: the write token is cached for 30 min of wall time whatever the firmware says;
            # once the firmware has dropped it (reboot, its own expiry) every write fails until then.
            miner.rpc.token = None
            reply = await send()
    except APIError as error:
        message = str(error)
        if "invalid json" in message.lower():
            # pyasic builds valid JSON, so only a key mismatch makes it unreadable to the firmware.
            raise MinerAuthError(f"{what}: refused ({message}): wrong password") from error
        if "can't access write cmd" in message:
            raise MinerAuthError(f"{what}: refused ({message}): API writes not enabled on the miner") from error
        raise MinerCommandError(f"{what}: {message}") from error
    except (AttributeError, TypeError) as error:
        raise MinerAuthError(f"{what}: reply could not be decrypted: wrong password") from error
    if not (isinstance(reply, dict) and reply.get("Msg") == "API command OK"):
        raise MinerCommandError(f"{what}: unexpected reply {_short(reply)}")


async def _v3_write(what: str, call: Any) -> None:
    # pyasic: BTMinerV3.set_power_limit ignores the reply and returns True even when refused.
    reply = await call
    if isinstance(reply, dict) and reply.get("code") == 0:
        return
    if isinstance(reply, dict) and reply.get("code") == _V3_ACCESS_DENIED:
        # The token is a hash of the password: a refused token means the password differs.
        raise MinerAuthError(f"{what}: refused ({reply.get('msg')}): wrong password")
    raise MinerCommandError(f"{what}: refused {_short(reply)}")


async def _bos_write(what: str, call: Any) -> dict[str, Any]:
    # pyasic: BOSer commands return False on any APIError; the gRPC status says why.
    try:
        reply = await call
    except (APIError, GRPCError) as error:
        status = _grpc_status(error)
        if status is Status.UNAUTHENTICATED:
            raise MinerAuthError(f"{what}: login refused: wrong username or password") from error
        raise MinerCommandError(f"{what}: {_grpc_message(error) or _root_cause(error)}") from error
    return reply if isinstance(reply, dict) else {}


def _grpc_status(error: BaseException | None) -> Status | None:
    while error is not None:
        if isinstance(error, GRPCError):
            return error.status
        error = error.__cause__ or error.__context__
    return None


def _root_cause(error: BaseException) -> str:
    # pyasic's APIError text names a bound method; the innermost cause says what happened.
    while error.__cause__ is not None or error.__context__ is not None:
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    return str(error) or type(error).__name__


def _grpc_message(error: BaseException | None) -> str | None:
    while error is not None:
        if isinstance(error, GRPCError):
            return f"{error.status.name}: {error.message}"
        error = error.__cause__ or error.__context__
    return None


async def set_power_limit(miner: MinerProtocol, watts: int) -> None:
    """Ask for a power limit; raises MinerCommandError (MinerAuthError) with the reason when refused."""
    what = f"set_power_limit({watts})"
    if isinstance(miner, BTMinerV3):
        await _v3_write(what, miner.rpc.set_miner_power_limit(watts))
    elif isinstance(miner, BTMinerV2):
        await _v2_write(what, miner, lambda: miner.rpc.adjust_power_limit(watts))
    elif isinstance(miner, BOSer):
        # The same request BOSer.set_power_limit sends, with the reason kept on failure.
        reply = await _bos_write(
            what, miner.web.set_power_target(watts, save_action=SaveAction(SaveAction.SAVE_AND_FORCE_APPLY))
        )
        if reply.get("powerTarget", {}).get("watt") != watts:
            raise MinerCommandError(f"{what}: unexpected reply {_short(reply)}")
    elif not await miner.set_power_limit(watts):
        raise MinerCommandError(f"{what}: refused by {family(miner)}")


async def stop_mining(miner: MinerProtocol) -> None:
    if isinstance(miner, BTMinerV3):
        await _v3_write("stop_mining", miner.rpc.set_miner_service("stop"))
    elif isinstance(miner, BTMinerV2):
        await _v2_write("stop_mining", miner, lambda: miner.rpc.power_off(respbefore=True))
    elif isinstance(miner, BOSer):
        await _bos_write("stop_mining", miner.web.pause_mining())
    elif not await miner.stop_mining():
        raise MinerCommandError(f"stop_mining: refused by {family(miner)}")


async def resume_mining(miner: MinerProtocol) -> None:
    if isinstance(miner, BTMinerV3):
        await _v3_write("resume_mining", miner.rpc.set_miner_service("start"))
    elif isinstance(miner, BTMinerV2):
        await _v2_write("resume_mining", miner, miner.rpc.power_on)
    elif isinstance(miner, BOSer):
        await _bos_write("resume_mining", miner.web.resume_mining())
    elif not await miner.resume_mining():
        raise MinerCommandError(f"resume_mining: refused by {family(miner)}")


class PyasicLink:
    """A persistent pyasic handle (its token and session caches live on it) behind the fleet's seam."""

    def __init__(self, miner: MinerProtocol) -> None:
        self.miner = miner

    @property
    def family(self) -> str:
        return family(self.miner)

    def describe(self) -> Identity:
        return describe(self.miner)

    async def identity(self) -> Identity:
        return await read_identity(self.miner)

    async def read(self) -> Sample:
        return await read_sample(self.miner)

    async def set_power_limit(self, watts: int) -> None:
        await set_power_limit(self.miner, watts)

    async def stop_mining(self) -> None:
        await stop_mining(self.miner)

    async def resume_mining(self) -> None:
        await resume_mining(self.miner)

    def close(self) -> None:
        """End the connection the handle keeps open (BOS+ gRPC); nothing to do for other families."""
        web = getattr(self.miner, "web", None)
        if isinstance(web, PersistentBOSerWebAPI):
            web.close()


_COMMANDS: dict[type, list[str]] = {}


def _memoise_commands(rpc: Any) -> None:
    # pyasic: every multicommand checks its commands against `get_commands()`, which lists them
    # with dir() and callable() each time (about 1 ms of CPU per poll and miner). The list depends
    # only on the class, so compute it once and let the handle's instance attribute answer.
    if rpc is None or not hasattr(rpc, "get_commands"):
        return
    cls = type(rpc)
    if cls not in _COMMANDS:
        _COMMANDS[cls] = rpc.get_commands()
    commands = _COMMANDS[cls]
    rpc.get_commands = lambda: commands


class PyasicConnector:
    """Finds what answers at a host and returns a link with the configured login on it.

    `persistent_bos=False` leaves BOS+ miners on pyasic's own gRPC client (a connection per call,
    betterproto decoding), for comparison in benchmarks.
    """

    def __init__(self, *, persistent_bos: bool = True) -> None:
        self.persistent_bos = persistent_bos

    async def connect(self, host: str, credentials: Credentials) -> PyasicLink | None:
        miner = await identify(host)
        if miner is None:
            return None
        if self.persistent_bos and isinstance(miner, BOSer):
            # pyasic: BOSerWebAPI opens a gRPC connection per call and decodes with betterproto.
            miner.web = PersistentBOSerWebAPI.replacing(miner.web)
        apply_credentials(miner, credentials)
        _memoise_commands(getattr(miner, "rpc", None))
        return PyasicLink(miner)
