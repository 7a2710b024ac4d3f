"""One miner reached through pyasic 0.79: identify it, read what the controller needs, command it.

This is the only module that knows pyasic's classes. It works around the pyasic bugs that touch
us (see docs/pyasic-notes.md); each workaround is named `# pyasic:` where it happens. It imposes
no timeouts itself: the fleet wraps every call in `asyncio.wait_for`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pyasic
from pyasic.data import MinerData
from pyasic.errors import APIError
from pyasic.miners.backends.braiins_os import BOSer
from pyasic.miners.backends.btminer import BTMinerV2, BTMinerV3
from pyasic.miners.base import MinerProtocol
from pyasic.miners.data import DataOptions
from pyasic.miners.factory import MINER_CLASSES, MinerTypes
from pyasic.rpc.btminer import BTMinerV3RPCAPI

from miners.config import Credentials
from miners.driver_link import Identity, MinerAuthError, MinerCommandError, Sample

log = logging.getLogger(__name__)

#: Only what the controller uses: no config, pools, fans or serials on every tick.
POLL_FIELDS: tuple[DataOptions, ...] = (
    DataOptions.HASHRATE,
    DataOptions.WATTAGE,
    DataOptions.WATTAGE_LIMIT,
    DataOptions.ENVIRONMENT_TEMP,
    DataOptions.HASHBOARDS,
    DataOptions.IS_MINING,
    DataOptions.ERRORS,
    DataOptions.UPTIME,
)
#: Any firmware date after this makes pyasic pick the API v3 class for a Whatsminer.
_WHATSMINER_V3_VERSION = "20250101.00.Rel"


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
    elif isinstance(miner, BOSer):
        # pyasic: BOSerWebAPI reads settings key "default_bosminer_password", which does not exist
        # (the setting is "default_bosminer_web_password"), so the password must be set here.
        if credentials.username is not None:
            miner.web.username = credentials.username
        if password is not None:
            miner.web.pwd = password
    else:
        web = getattr(miner, "web", None)
        if web is not None and password is not None:
            web.pwd = password
            if credentials.username is not None:
                web.username = credentials.username


async def _answers_v3(ip: str) -> str | None:
    """The firmware version a Whatsminer reports on API v3 (TCP 4433), or None if nothing answers."""
    try:
        reply = await BTMinerV3RPCAPI(ip).get_device_info()
    except (APIError, OSError, ValueError):
        return None
    if not isinstance(reply, dict):
        return None
    system = reply.get("msg", {}).get("system", {}) if isinstance(reply.get("msg"), dict) else {}
    version = system.get("fwversion") if isinstance(system, dict) else None
    return str(version) if version else None


async def _v2_answers(miner: BTMinerV2) -> bool:
    try:
        reply = await miner.rpc.get_version()
    except (APIError, OSError, ValueError):
        return False
    return isinstance(reply, dict) and reply.get("STATUS") == "S"


async def identify(ip: str) -> MinerProtocol | None:
    """Ask pyasic what answers at `ip`; None when nothing recognisable does."""
    miner = await pyasic.get_miner(ip)
    if miner is None:
        return None
    if isinstance(miner, BTMinerV2) and not await _v2_answers(miner):
        # pyasic: a Whatsminer with only API v3 open (4028 closed) is found by its 4433 probe, but the
        # firmware version is only asked on 4028, so pyasic builds the v2 class and nothing works.
        version = await _answers_v3(ip)
        if version is not None:
            rebuilt = _whatsminer_v3(miner, version)
            log.info("event=reclassified ip=%s class=%s", ip, type(rebuilt).__name__)
            return rebuilt
    return miner


def _whatsminer_v3(miner: MinerProtocol, version: str) -> MinerProtocol:
    key = None if miner.raw_model is None else str(miner.raw_model).upper()
    classes = MINER_CLASSES[MinerTypes.WHATSMINER]
    cls = classes.get(key, classes[None])
    if not (version[:8].isdigit() and version[:8] > "20241100"):
        version = _WHATSMINER_V3_VERSION  # it answered on v3, so it is v3 whatever its date says
    return cls(str(miner.ip), version)


async def read_identity(miner: MinerProtocol) -> Identity:
    """MAC, serial and firmware version of a miner (one extra read; done at connect, not every tick)."""
    data = await miner.get_data(
        include=[DataOptions.MAC, DataOptions.SERIAL_NUMBER, DataOptions.FW_VERSION]
    )
    return Identity(
        ip=str(miner.ip),
        make=None if miner.make is None else str(miner.make),
        model=None if miner.raw_model is None else str(miner.raw_model),
        firmware=None if miner.firmware is None else str(miner.firmware),
        fw_version=data.fw_ver,
        mac=None if data.mac is None else str(data.mac).upper(),
        serial=data.serial_number,
        supports_power_limit=supports_power_limit(miner),
    )


def _errors_text(data: MinerData) -> tuple[str, ...]:
    # pyasic: BTMinerV2 reports each error twice (get_error_code and the summary), so deduplicate.
    seen: dict[str, None] = {}
    for error in data.errors or []:
        code = getattr(error, "error_code", None)
        message = getattr(error, "error_message", None)
        text = f"{code}: {message}" if code is not None else str(message)
        seen.setdefault(text, None)
    return tuple(seen)


def _board_temps(data: MinerData) -> list[float]:
    return [float(b.temp) for b in data.hashboards or [] if b.temp is not None and not b.missing]


async def _v3_working(miner: BTMinerV3) -> bool | None:
    # pyasic: BTMinerV3 has no is_mining data location, so MinerData.is_mining stays True even
    # while stopped; the device info's `miner.working` is the truth.
    reply = await miner.rpc.get_device_info()
    try:
        working = reply["msg"]["miner"]["working"]
    except (KeyError, TypeError):
        return None
    return str(working).lower() == "true"


async def read_sample(miner: MinerProtocol) -> Sample:
    """One poll of the fields the controller needs. Raises when the miner gave nothing usable."""
    if isinstance(miner, BTMinerV3):
        fields = [f for f in POLL_FIELDS if f is not DataOptions.IS_MINING]
        data, mining = await asyncio.gather(miner.get_data(include=fields), _v3_working(miner))
    else:
        data = await miner.get_data(include=list(POLL_FIELDS))
        mining = data.is_mining
    hashrate = None if data.hashrate is None else float(data.hashrate)
    if data.wattage is None and hashrate is None and data.wattage_limit is None:
        # pyasic turns an unreadable reply into an empty MinerData instead of an error.
        raise MinerCommandError("no usable data in the reply")
    temps = _board_temps(data)
    return Sample(
        power_w=None if data.wattage is None else float(data.wattage),
        hashrate_ths=hashrate,
        power_limit_w=None if data.wattage_limit is None else float(data.wattage_limit),
        # Hydro Whatsminers report the coolant inlet as "Env Temp"; the hottest board stands in for
        # the outlet, which no firmware reports through pyasic.
        coolant_in_c=None if data.env_temp is None else float(data.env_temp),
        coolant_out_c=max(temps) if temps else None,
        mining=mining,
        errors=_errors_text(data),
        uptime_s=None if data.uptime is None else float(data.uptime),
    )


def _v2_reply_ok(reply: Any, what: str) -> None:
    if isinstance(reply, dict) and reply.get("Msg") == "API command OK":
        return
    if isinstance(reply, dict) and "enc" in reply:
        raise MinerAuthError(f"{what}: reply could not be decrypted (wrong password?)")
    raise MinerCommandError(f"{what}: unexpected reply {_short(reply)}")


def _v3_reply_ok(reply: Any, what: str) -> None:
    if isinstance(reply, dict) and reply.get("code") == 0:
        return
    if isinstance(reply, dict) and reply.get("code") == -4:
        raise MinerAuthError(f"{what}: token refused (wrong password?)")
    raise MinerCommandError(f"{what}: refused {_short(reply)}")


def _short(reply: Any) -> str:
    text = repr(reply)
    return text if len(text) <= 160 else text[:157] + "..."


async def _v2_privileged(miner: BTMinerV2, what: str, call: Any) -> None:
    try:
        reply = await call
    except APIError as error:
        if _is_auth_refusal(str(error)):
            raise MinerAuthError(f"{what}: {error} (wrong password, or API writes not enabled)") from error
        raise MinerCommandError(f"{what}: {error}") from error
    except (AttributeError, TypeError) as error:
        # pyasic: an encrypted reply it cannot decrypt (our password differs from the miner's)
        # reaches `validate_command_output` as {"enc": "..."} and fails there with AttributeError.
        raise MinerAuthError(f"{what}: reply could not be decrypted (wrong password?)") from error
    _v2_reply_ok(reply, what)


def _is_auth_refusal(message: str) -> bool:
    lowered = message.lower()
    return any(word in lowered for word in ("token", "password", "can't access write cmd"))


async def set_power_limit(miner: MinerProtocol, watts: int) -> None:
    """Ask for a power limit; raises MinerCommandError with the reason when refused."""
    what = f"set_power_limit({watts})"
    if isinstance(miner, BTMinerV3):
        # pyasic: BTMinerV3.set_power_limit ignores the reply and returns True even when refused.
        _v3_reply_ok(await miner.rpc.set_miner_power_limit(watts), what)
    elif isinstance(miner, BTMinerV2):
        # pyasic: BTMinerV2.set_power_limit turns every failure into False and drops the reason.
        await _v2_privileged(miner, what, miner.rpc.adjust_power_limit(watts))
    elif not await miner.set_power_limit(watts):
        raise MinerCommandError(f"{what}: refused by {family(miner)}")


async def stop_mining(miner: MinerProtocol) -> None:
    if isinstance(miner, BTMinerV3):
        _v3_reply_ok(await miner.rpc.set_miner_service("stop"), "stop_mining")
    elif isinstance(miner, BTMinerV2):
        await _v2_privileged(miner, "stop_mining", miner.rpc.power_off(respbefore=True))
    elif not await miner.stop_mining():
        raise MinerCommandError(f"stop_mining: refused by {family(miner)}")


async def resume_mining(miner: MinerProtocol) -> None:
    if isinstance(miner, BTMinerV3):
        _v3_reply_ok(await miner.rpc.set_miner_service("start"), "resume_mining")
    elif isinstance(miner, BTMinerV2):
        await _v2_privileged(miner, "resume_mining", miner.rpc.power_on())
    elif not await miner.resume_mining():
        raise MinerCommandError(f"resume_mining: refused by {family(miner)}")


class PyasicLink:
    """A persistent pyasic handle (its token and session caches live on it) behind the fleet's interface."""

    def __init__(self, miner: MinerProtocol) -> None:
        self.miner = miner

    @property
    def family(self) -> str:
        return family(self.miner)

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


class PyasicConnector:
    """Finds what answers at a host and returns a link with the configured login on it."""

    async def connect(self, host: str, credentials: Credentials) -> PyasicLink | None:
        miner = await identify(host)
        if miner is None:
            return None
        apply_credentials(miner, credentials)
        return PyasicLink(miner)
