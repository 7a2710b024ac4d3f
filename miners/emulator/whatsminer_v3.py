"""Whatsminer API v3 on TCP 4433 (firmware later than 2024-11): length-prefixed JSON, no encryption.

Requests are `{"cmd": "get.miner.status", "param": "summary"}`; `set.*` requests add `ts`,
`account` and `token` = base64(sha256(cmd + password + salt + ts))[:8], with the salt from
`get.device.info` param "salt". Replies are `{"code", "when", "msg", "desc"}`; codes 0 ok,
-1 command error, -2 invalid command, -3 invalid JSON, -4 access denied (as pyasic's newer
client enumerates them). Shapes follow miner-protocols.md §2.2.
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

from miners.emulator.miner import EmulatedMiner, PowerLimitRejected, Readings
from miners.emulator.whatsminer_v2 import ERROR_INLET_TOO_HOT

Json = dict[str, Any]

OK, CMD_ERROR, INVALID_CMD, INVALID_JSON, ACCESS_DENIED = 0, -1, -2, -3, -4


def token_for(cmd: str, password: str, salt: str, ts: object) -> str:
    digest = hashlib.sha256(f"{cmd}{password}{salt}{ts}".encode()).digest()
    return base64.b64encode(digest).decode()[:8]


def reply(cmd: str, msg: Any, code: int = OK) -> Json:
    return {"code": code, "when": int(time.time()), "msg": msg, "desc": cmd}


class WhatsminerV3Api:
    def __init__(self, miner: EmulatedMiner) -> None:
        self.miner = miner
        # Fixed per device: pyasic caches the salt forever, and nothing says the firmware changes it.
        self.salt = hashlib.sha256(f"salt:{miner.serial}".encode()).hexdigest()[:8]

    def handle(self, request: Json) -> Json:
        cmd = str(request.get("cmd", ""))
        param = request.get("param")
        if cmd.startswith("set."):
            return self._set(cmd, param, request)
        readings = self.miner.readings()
        if cmd == "get.device.info":
            return reply(cmd, {"salt": self.salt}) if param == "salt" else self._device_info(cmd, readings)
        if cmd == "get.miner.status":
            if param == "summary":
                return self._summary(cmd, readings)
            if param == "edevs":
                return self._edevs(cmd, readings)
            if param == "pools":
                return reply(cmd, {"pools": [{"id": 1, "url": "stratum+tcp://pool.invalid:3333",
                                              "account": f"boiler.{self.miner.name}",
                                              "status": "alive" if readings.hashing else "dead",
                                              "stratum-active": readings.hashing}]})
        if cmd == "get.miner.setting":
            return reply(cmd, {"power-mode": "normal", "power-limit": round(readings.power_limit_w)})
        return reply(cmd, "invalid command", INVALID_CMD)

    # ------------------------------------------------------------------ reads
    def _device_info(self, cmd: str, r: Readings) -> Json:
        m = self.miner
        codes = [ERROR_INLET_TOO_HOT] if r.inlet_too_hot else []
        return reply(cmd, {
            "network": {"ip": m.ip, "proto": "static", "mac": m.mac, "hostname": m.hostname},
            "system": {"api": "3.0.1", "fwversion": m.fw_version, "ledstatus": "auto",
                       "platform": "H616"},
            "power": {"type": "P221B", "fanspeed": 0, "vin": 380, "sn": f"{m.serial}PSU"},
            "hardware": {"boards": len(r.boards)},
            "miner": {"type": m.devdetails_model, "working": "false" if m.sleeping else "true",
                      "miner-sn": m.serial, "power-limit-set": str(round(r.power_limit_w)),
                      **{f"pcbsn{b.slot}": f"{m.serial}P{b.slot}" for b in r.boards}},
            "error-code": [{str(c): "environment temperature too high"} for c in codes],
        })

    def _summary(self, cmd: str, r: Readings) -> Json:
        chip_avg = max((b.chip_temp_c for b in r.boards), default=r.coolant_out_c)
        ths = round(r.hashrate_ths, 3)
        # No "pools" key here: pyasic 0.79 would build PoolMetrics(url=str) and fail the whole get_data.
        return reply(cmd, {"summary": {
            "elapsed": int(r.uptime_s), "bootup-time": int(r.uptime_s), "freq-avg": 600 if r.hashing else 0,
            "target-freq": 600, "factory-hash": self.miner.spec.nominal_hashrate_ths,
            "hash-average": ths, "hash-1min": ths, "hash-15min": ths, "hash-realtime": ths,
            "power-rate": round(r.power_w / r.hashrate_ths, 2) if r.hashing else 0.0,
            "power-5min": round(r.power_w), "power-realtime": round(r.power_w),
            "environment-temperature": round(r.coolant_in_c, 2),
            "board-temperature": [round(b.board_temp_c, 2) for b in r.boards],
            "chip-temp-min": round(chip_avg - 3, 2), "chip-temp-avg": round(chip_avg, 2),
            "chip-temp-max": round(chip_avg + 3, 2), "power-limit": round(r.power_limit_w),
            "up-freq-finish": int(r.hashing), "fan-speed-in": 0, "fan-speed-out": 0,
        }})

    def _edevs(self, cmd: str, r: Readings) -> Json:
        per_board_nominal = self.miner.spec.nominal_hashrate_ths / max(len(r.boards), 1)
        return reply(cmd, {"edevs": [{
            "id": b.slot, "slot": b.slot, "hash-average": round(b.hashrate_ths, 3),
            "factory-hash": round(per_board_nominal, 3), "freq": 600 if r.hashing else 0,
            "effective-chips": b.chips,
            # pyasic reads chip-temp-min as the board temperature: give it the board sensor.
            "chip-temp-min": round(b.board_temp_c, 2), "chip-temp-avg": round(b.chip_temp_c, 2),
            "chip-temp-max": round(b.chip_temp_c + 3, 2),
        } for b in r.boards]})

    # ------------------------------------------------------------------ writes
    def _set(self, cmd: str, param: Any, request: Json) -> Json:
        m = self.miner
        if not m.password_ok(m.password) or request.get("token") != token_for(
            cmd, m.password, self.salt, request.get("ts")
        ):
            return reply(cmd, "access denied", ACCESS_DENIED)
        if cmd == "set.miner.power_limit":
            try:
                m.apply_power_limit(float(param))
            except PowerLimitRejected as exc:
                return reply(cmd, str(exc), CMD_ERROR)
            except (TypeError, ValueError):
                return reply(cmd, "invalid param", CMD_ERROR)
            return reply(cmd, "ok")
        if cmd == "set.miner.service":
            if param == "stop":
                m.stop_mining()
            elif param == "start":
                m.resume_mining()
            elif param == "restart":
                m.stop_mining()
                m.resume_mining()
            else:
                return reply(cmd, "invalid param", CMD_ERROR)
            return reply(cmd, "ok")
        return reply(cmd, "invalid command", INVALID_CMD)
