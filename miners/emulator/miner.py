"""One emulated miner: identity, physics (`HydroMiner`), coolant inlet, credentials and fault mode.

This object holds no sockets. The protocol handlers read `readings()` and call the command
methods; `MinerHost` (transport.py) owns the ports and applies the fault mode to them. All
times come from the injected `clock`, so a simulation can run the emulator on virtual time.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from miners.catalogue import MinerSpec
from miners.emulator.faults import Disconnect, Fault, Reboot, Unreachable, WrongPassword
from miners.emulator.identity import (
    Family,
    board_layout,
    check_family,
    default_family,
    derived_mac,
    derived_serial,
    devdetails_model,
    find_spec,
    firmware_version,
)
from miners.model import HydroMiner, MinerState

Clock = Callable[[], float]

#: Passwords pyasic 0.79 sends by default, per family (Whatsminer v3's is hard-coded in pyasic).
DEFAULT_PASSWORDS: dict[Family, str] = {"whatsminer": "admin", "whatsminer-v3": "super", "braiins": "root"}

# Sensor model of the emulated firmware [D]: the hashboard sits a few kelvin above the coolant
# outlet and the chips further above it, both growing with load; boards differ slightly.
_BOARD_RISE_K = 4.0
_CHIP_RISE_K = 12.0
_BOARD_SPREAD_K = 0.3


class PowerLimitRejected(ValueError):
    """The firmware refuses a power limit outside its range (BOS+ and Whatsminer both do)."""

    def __init__(self, requested_w: float, min_w: float, max_w: float) -> None:
        super().__init__(f"power limit {requested_w:g} W outside {min_w:g}-{max_w:g} W")
        self.requested_w = requested_w
        self.min_w = min_w
        self.max_w = max_w


@dataclass(frozen=True, slots=True)
class BoardReading:
    slot: int
    hashrate_ths: float
    board_temp_c: float
    chip_temp_c: float
    chips: int


@dataclass(frozen=True, slots=True)
class Readings:
    """What the firmware reports at one instant."""

    state: MinerState
    power_w: float
    power_limit_w: float
    hashrate_ths: float
    heat_to_coolant_w: float
    uptime_s: float
    coolant_in_c: float
    coolant_out_c: float
    boards: tuple[BoardReading, ...]
    inlet_mid_c: float  # middle of the model's inlet window: tells a hot stop from a cold one

    @property
    def hashing(self) -> bool:
        return self.state in (MinerState.HASHING, MinerState.THROTTLED)

    @property
    def inlet_out_of_window(self) -> bool:
        return self.state is MinerState.STOPPED_HOT

    @property
    def inlet_too_hot(self) -> bool:
        """Stopped by the inlet guard on the hot side of the window."""
        return self.state is MinerState.STOPPED_HOT and self.coolant_in_c > self.inlet_mid_c


class EmulatedMiner:
    """A miner of catalogue model `model` at `ip`, speaking `family` (default: the model's own)."""

    def __init__(
        self,
        model: str | MinerSpec,
        ip: str,
        *,
        family: Family | None = None,
        name: str | None = None,
        clock: Clock = time.monotonic,
        coolant_inlet_c: float = 35.0,
        power_limit_w: float | None = None,
        password: str | None = None,
        serial: str | None = None,
        mac: str | None = None,
        legacy_rpc: bool = True,
    ) -> None:
        self.spec = model if isinstance(model, MinerSpec) else find_spec(model)
        self.family: Family = default_family(self.spec) if family is None else check_family(self.spec, family)
        self.ip = ip
        self.name = name or f"emu-{ip}"
        self.clock = clock
        self.coolant_inlet_c = coolant_inlet_c
        self.password = DEFAULT_PASSWORDS[self.family] if password is None else password
        self.serial = serial or derived_serial(ip, self.spec)
        self.mac = (mac or derived_mac(ip, self.family)).upper()
        self.hostname = "WhatsMiner" if self.family != "braiins" else f"bos-{self.serial[-6:].lower()}"
        self.fw_version = firmware_version(self.family)
        self.devdetails_model = devdetails_model(self.spec, self.family)
        layout = board_layout(self.spec, self.family)
        self.board_count = layout.boards
        self.chips_per_board = layout.chips_per_board
        # API v3 firmware still answers identification on 4028; without it pyasic picks the v2
        # class and cannot talk to the miner (miner-protocols.md §4.3 item 3). False reproduces that.
        self.legacy_rpc = legacy_rpc
        self.model = HydroMiner(self.spec, self.name, power_limit_w=power_limit_w, now_s=clock())
        #: Session secret of this boot (BOS+ auth token, Whatsminer v3 salt); new after a reboot.
        self.session_secret = secrets.token_hex(8)
        self.boots = 1
        self._fault: Fault | None = None
        self._down_until_s: float | None = None
        self._disconnect_budget = 0
        self._listeners: list[Callable[[], None]] = []

    def __repr__(self) -> str:
        return f"EmulatedMiner({self.spec.key!r}, {self.ip!r}, family={self.family!r}, fault={self._fault!r})"

    # ------------------------------------------------------------------ physics and readings
    def readings(self) -> Readings:
        """The miner's state now (on its clock) at its current coolant inlet."""
        now = self.clock()
        inlet = self.coolant_inlet_c
        out = self.model.output(now, inlet)
        outlet = self.model.coolant_out_c(inlet, now_s=now)
        load = out.power_w / self.spec.nominal_power_w if out.hashrate_ths > 0 else 0.0
        per_board_ths = out.hashrate_ths / self.board_count
        chips = self.chips_per_board if out.hashrate_ths > 0 else 0
        boards = tuple(
            BoardReading(
                slot=i,
                hashrate_ths=per_board_ths,
                board_temp_c=outlet + _BOARD_RISE_K * load + _BOARD_SPREAD_K * i,
                chip_temp_c=outlet + (_BOARD_RISE_K + _CHIP_RISE_K) * load + _BOARD_SPREAD_K * i,
                chips=chips,
            )
            for i in range(self.board_count)
        )
        return Readings(
            state=out.state,
            power_w=out.power_w,
            power_limit_w=self.model.power_limit_w,
            hashrate_ths=out.hashrate_ths,
            heat_to_coolant_w=out.heat_to_coolant_w,
            uptime_s=self.model.uptime_s(now),
            coolant_in_c=inlet,
            coolant_out_c=outlet,
            boards=boards,
            inlet_mid_c=(self.spec.inlet_min_c + self.spec.inlet_max_c) / 2,
        )

    @property
    def sleeping(self) -> bool:
        return self.model.sleeping

    # ------------------------------------------------------------------ commands (as firmware runs them)
    def apply_power_limit(self, power_w: float) -> float:
        """Set the power limit; PowerLimitRejected outside the model's range. Returns the limit."""
        spec = self.spec
        if not spec.min_power_w <= power_w <= spec.max_power_w:
            raise PowerLimitRejected(power_w, spec.min_power_w, spec.max_power_w)
        return self.model.set_power_limit(power_w, self.clock())

    def stop_mining(self) -> None:
        self.model.sleep(self.clock())

    def resume_mining(self) -> None:
        self.model.wake(self.clock())

    def password_ok(self, password: str) -> bool:
        """Whether a client using `password` may write (never while WrongPassword is on)."""
        return not isinstance(self._fault, WrongPassword) and password == self.password

    # ------------------------------------------------------------------ faults
    @property
    def fault(self) -> Fault | None:
        self._finish_reboot_if_due()
        return self._fault

    def set_fault(self, fault: Fault | None) -> None:
        """Switch fault mode now; `None` heals the miner (a pending reboot completes at once)."""
        if isinstance(self._fault, Reboot) and not isinstance(fault, Reboot):
            self._come_back()
        self._fault = fault
        self._disconnect_budget = fault.after_requests if isinstance(fault, Disconnect) else 0
        if isinstance(fault, Reboot):
            self._go_down(fault.down_s)
        if isinstance(fault, WrongPassword):
            # Sessions opened with the old password die with it, as after a password change.
            self.session_secret = secrets.token_hex(8)
        self._notify()

    def clear_fault(self) -> None:
        self.set_fault(None)

    def reboot(self, down_s: float) -> None:
        self.set_fault(Reboot(down_s))

    def is_down(self) -> bool:
        """True while the ports must be closed (Unreachable, or rebooting)."""
        fault = self.fault
        return isinstance(fault, Unreachable | Reboot)

    @property
    def down_until_s(self) -> float | None:
        """Clock time the current reboot ends, or None."""
        return self._down_until_s

    def take_request(self) -> bool:
        """Count one request against a Disconnect budget; False means drop this connection."""
        if not isinstance(self.fault, Disconnect):
            return True
        if self._disconnect_budget > 0:
            self._disconnect_budget -= 1
            return True
        return False

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Call `callback()` whenever the fault mode changes (the host re-syncs its ports)."""
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[], None]) -> None:
        self._listeners.remove(callback)

    def _notify(self) -> None:
        for callback in list(self._listeners):
            callback()

    def _go_down(self, down_s: float) -> None:
        now = self.clock()
        self._down_until_s = now + down_s
        # Power drops to standby at once; the firmware boots again when the reboot ends.
        self.model = HydroMiner(self.spec, self.name, power_limit_w=self.model.power_limit_w, now_s=now)
        self.model.sleep(now)

    def _come_back(self) -> None:
        now = self.clock()
        self._down_until_s = None
        self.session_secret = secrets.token_hex(8)
        self.boots += 1
        # Booted firmware starts hashing after its start-up delay, with the limit it had saved.
        self.model.wake(now)

    def _finish_reboot_if_due(self) -> None:
        if self._down_until_s is not None and self.clock() >= self._down_until_s:
            self._come_back()
            self._fault = None
            self._notify()
