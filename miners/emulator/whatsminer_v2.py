"""Whatsminer (btminer) API v2 on TCP 4028: what the stock firmware answers, request by request.

Reads are plain JSON, `{"command": "summary"}` or `"summary+devs+pools"`; replies are cgminer
style (`STATUS` list) or, for `get_*` and `status`, btminer's flat style (`STATUS` string,
`Msg` object). Writes arrive encrypted after a `get_token` handshake:
key = md5-crypt(password, salt), AES-256-ECB with sha256(key), sign = md5-crypt(key + time,
newsalt); the reply is encrypted the same way. Message codes are those of the Whatsminer API
v2 document (14 invalid command, 23 invalid JSON, 131 OK, 132 command error, 134 token, 135
token check failed). Shapes follow miner-protocols.md §2.1 and what pyasic 0.79 parses.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import time
from collections import OrderedDict
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from passlib.handlers.md5_crypt import md5_crypt

from miners.emulator.miner import EmulatedMiner, PowerLimitRejected, Readings

Json = dict[str, Any]

#: Whatsminer error code 600: "Environment temperature is too high" (pyasic's code table). On a
#: hydro unit the environment sensor is the coolant inlet [R].
ERROR_INLET_TOO_HOT = 600
#: The firmware keeps at most this many tokens and lets each live 30 min (API v2 document).
_MAX_TOKENS = 32
_TOKEN_LIFE_S = 1800.0

_PLAIN = frozenset(
    {
        "summary", "devs", "edevs", "devdetails", "pools", "version", "get_version",
        "get_miner_info", "get_psu", "get_error_code", "status", "get_token",
    }
)
# Which plain commands API v3 firmware still answers on 4028 (identification and reads).
_V3_FIRMWARE_PLAIN = _PLAIN - {"get_token"}


@lru_cache(maxsize=4096)
def md5_crypt_part(word: str, salt: str) -> str:
    """The hash field of `$1$salt$hash`, which btminer uses as key and sign."""
    return md5_crypt.using(salt=salt).hash(word).split("$")[3]


def _aes(key: str) -> Cipher:
    return Cipher(algorithms.AES(binascii.unhexlify(hashlib.sha256(key.encode()).hexdigest())), modes.ECB())


def encrypt(key: str, obj: Json) -> str:
    text = json.dumps(obj)
    raw = text.encode() + b"\0" * (-len(text.encode()) % 16)
    enc = _aes(key).encryptor()
    return base64.b64encode(enc.update(raw) + enc.finalize()).decode()


def decrypt(key: str, data: str) -> Json:
    """Decrypt a privileged request; ValueError when it is not JSON under this key."""
    try:
        dec = _aes(key).decryptor()
        raw = dec.update(base64.b64decode(data)) + dec.finalize()
        obj = json.loads(raw.rstrip(b"\0").decode())
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
        raise ValueError(str(exc)) from exc
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    return obj


def _when() -> int:
    return int(time.time())


def cgminer_reply(code: int, msg: str, key: str | None = None, body: Any = None, status: str = "S") -> Json:
    head = {"STATUS": status, "When": _when(), "Code": code, "Msg": msg, "Description": "btminer"}
    out: Json = {"STATUS": [head]}
    if key is not None:
        out[key] = body
    out["id"] = 1
    return out


def flat_reply(code: int, msg: Any, status: str = "S") -> Json:
    return {"STATUS": status, "When": _when(), "Code": code, "Msg": msg, "Description": ""}


class WhatsminerV2Api:
    """Answers one decoded request for one miner; the transport frames bytes around it."""

    def __init__(self, miner: EmulatedMiner) -> None:
        self.miner = miner
        self._salt = secrets.token_hex(4)
        # (time, newsalt) -> issue time on the miner's clock, for the tokens get_token handed out.
        self._tokens: OrderedDict[tuple[str, str], float] = OrderedDict()

    # ------------------------------------------------------------------ entry point
    def handle(self, request: Json) -> Json:
        if "enc" in request:
            return self._privileged(request)
        command = str(request.get("command", ""))
        parts = command.split("+")
        allowed = _PLAIN if self.miner.family == "whatsminer" else _V3_FIRMWARE_PLAIN
        if not command or any(p not in allowed for p in parts):
            return cgminer_reply(14, "invalid cmd", status="E")
        readings = self.miner.readings()
        if len(parts) == 1:
            return self._plain(command, readings)
        out: Json = {p: [self._plain(p, readings)] for p in parts}
        out["id"] = 1
        return out

    def _plain(self, command: str, r: Readings) -> Json:
        return getattr(self, "_" + command)(r)

    # ------------------------------------------------------------------ reads
    def _summary(self, r: Readings) -> Json:
        m = self.miner
        mhs = r.hashrate_ths * 1e6
        chip_avg = max((b.chip_temp_c for b in r.boards), default=r.coolant_out_c)
        return cgminer_reply(11, "Summary", "SUMMARY", [{
            "Elapsed": int(r.uptime_s), "MHS av": mhs, "MHS 5s": mhs, "MHS 1m": mhs, "MHS 5m": mhs,
            "MHS 15m": mhs, "HS RT": mhs, "Accepted": 0, "Rejected": 0,
            "Temperature": round(r.boards[0].board_temp_c, 2) if r.boards else 0.0,
            "freq_avg": 600 if r.hashing else 0, "Fan Speed In": 0, "Fan Speed Out": 0,
            "Power": round(r.power_w),
            "Power Rate": round(r.power_w / r.hashrate_ths, 2) if r.hashing else 0.0,
            "Pool Rejected%": 0.0, "Pool Stale%": 0.0, "Uptime": int(r.uptime_s),
            "Hash Stable": r.hashing, "Target Freq": 600, "Target MHS": mhs,
            "Env Temp": round(r.coolant_in_c, 2), "Power Mode": "Normal",
            "Factory GHS": round(m.spec.nominal_hashrate_ths * 1000), "Power Limit": round(r.power_limit_w),
            "Chip Temp Min": round(chip_avg - 3, 2), "Chip Temp Max": round(chip_avg + 3, 2),
            "Chip Temp Avg": round(chip_avg, 2), "Debug": "", "Btminer Fast Boot": "disable",
            "Power Fanspeed": 0, "MAC": m.mac,
            # Errors are reported by get_error_code only: pyasic adds both sources without dedup.
            "Error Code Count": 0,
        }])

    def _devs(self, r: Readings) -> Json:
        return cgminer_reply(9, f"{len(r.boards)} ASC(s)", "DEVS", [{
            "ASC": b.slot, "Name": "SM", "ID": b.slot, "Slot": b.slot, "Enabled": "Y",
            "Status": "Alive" if r.hashing else "Dead", "Temperature": round(b.board_temp_c, 2),
            "Chip Frequency": 600 if r.hashing else 0,
            "MHS av": b.hashrate_ths * 1e6, "MHS 5s": b.hashrate_ths * 1e6, "MHS 1m": b.hashrate_ths * 1e6,
            "MHS 5m": b.hashrate_ths * 1e6, "MHS 15m": b.hashrate_ths * 1e6,
            "Accepted": 0, "Rejected": 0, "Hardware Errors": 0, "Upfreq Complete": int(r.hashing),
            "Effective Chips": b.chips, "PCB SN": f"{self.miner.serial}P{b.slot}",
            "Chip Temp Min": round(b.chip_temp_c - 3, 2), "Chip Temp Max": round(b.chip_temp_c + 3, 2),
            "Chip Temp Avg": round(b.chip_temp_c, 2),
        } for b in r.boards])

    _edevs = _devs

    def _devdetails(self, r: Readings) -> Json:
        return cgminer_reply(69, "Device Details", "DEVDETAILS", [{
            "DEVDETAILS": b.slot, "Name": "SM", "ID": b.slot, "Driver": "bitmicro", "Kernel": "",
            "Model": self.miner.devdetails_model,
        } for b in r.boards])

    def _pools(self, r: Readings) -> Json:
        return cgminer_reply(7, "1 Pool(s)", "POOLS", [{
            "POOL": 0, "URL": "stratum+tcp://pool.invalid:3333", "Status": "Alive", "Priority": 0,
            "Quota": 1, "Accepted": 0, "Rejected": 0, "Get Failures": 0, "Remote Failures": 0,
            "User": f"boiler.{self.miner.name}", "Stratum Active": r.hashing, "Stratum URL": "pool.invalid",
        }])

    def _version(self, r: Readings) -> Json:
        return flat_reply(131, {"api_ver": "2.0.5", "fw_ver": self.miner.fw_version, "platform": "H616",
                                "chip": "K"})

    _get_version = _version

    def _get_miner_info(self, r: Readings) -> Json:
        m = self.miner
        return flat_reply(131, {"ip": m.ip, "proto": "static", "netmask": "255.255.255.0", "gateway": "",
                                "dns": "", "hostname": m.hostname, "mac": m.mac, "ledstat": "auto",
                                "minersn": m.serial, "powersn": f"{m.serial}PSU"})

    def _get_psu(self, r: Readings) -> Json:
        return flat_reply(131, {"name": "P221B", "hw_version": "", "sw_version": "", "model": "P221B",
                                "iin": "0", "vin": "380", "fan_speed": "0", "version": "",
                                "serial_no": f"{self.miner.serial}PSU"})

    def _get_error_code(self, r: Readings) -> Json:
        codes = self.error_codes(r)
        return flat_reply(131, {"error_code": [{str(c): time.strftime("%Y-%m-%d %H:%M:%S")} for c in codes]})

    def _status(self, r: Readings) -> Json:
        off = self.miner.sleeping
        return flat_reply(131, {"mineroff": "true" if off else "false",
                                "mineroff_reason": "power_off" if off else "", "mineroff_time": "",
                                "FirmwareVersion": self.miner.fw_version, "power_mode": "",
                                "hash_percent": ""})

    def _get_token(self, r: Readings) -> Json:
        stamp = str(int(time.time()) % 10000)
        newsalt = secrets.token_hex(4)
        self._tokens[(stamp, newsalt)] = self.miner.clock()
        while len(self._tokens) > _MAX_TOKENS:
            self._tokens.popitem(last=False)
        return flat_reply(134, {"time": stamp, "salt": self._salt, "newsalt": newsalt})

    def _token_valid(self, key: str, sign: object) -> bool:
        """Whether `sign` belongs to a live token under the current key (checked at use, so a
        password put back makes the client's cached token good again)."""
        now = self.miner.clock()
        return any(
            now - issued <= _TOKEN_LIFE_S and md5_crypt_part(key + stamp, newsalt) == sign
            for (stamp, newsalt), issued in reversed(self._tokens.items())
        )

    @staticmethod
    def error_codes(r: Readings) -> list[int]:
        # Only the hot side of the inlet window has a Whatsminer code; too cold just stops hashing.
        return [ERROR_INLET_TOO_HOT] if r.inlet_too_hot else []

    # ------------------------------------------------------------------ writes
    def _key(self) -> str:
        # The key derives from the firmware's password; WrongPassword makes it differ from the client's.
        m = self.miner
        password = m.password if m.password_ok(m.password) else "changed:" + m.password
        return md5_crypt_part(password, self._salt)

    def _privileged(self, request: Json) -> Json:
        if self.miner.family != "whatsminer":
            # API v3 firmware refuses v2 writes; pyasic talks v3 to it anyway.
            return flat_reply(45, "can't access write cmd", "E")
        key = self._key()
        try:
            command = decrypt(key, str(request.get("data", "")))
        except ValueError:
            # Wrong password: the request does not decrypt to JSON under the firmware's key.
            return flat_reply(23, "invalid json message", "E")
        if not self._token_valid(key, command.get("token")):
            return {"enc": encrypt(key, flat_reply(135, "check token err", "E"))}
        return {"enc": encrypt(key, self._write(command))}

    def _write(self, command: Json) -> Json:
        name = command.get("cmd")
        m = self.miner
        if name == "adjust_power_limit":
            try:
                m.apply_power_limit(float(command.get("power_limit", "nan")))
            except PowerLimitRejected as exc:
                return flat_reply(132, str(exc), "E")
            except ValueError:
                return flat_reply(14, "invalid power_limit", "E")
        elif name == "power_off":
            m.stop_mining()
        elif name == "power_on":
            m.resume_mining()
        else:
            return flat_reply(14, "invalid cmd", "E")
        return flat_reply(131, "API command OK")

