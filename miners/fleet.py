"""The fleet driver: persistent links to every configured miner, polled and commanded with care.

- Every call to a miner runs under its own deadline; one stalled or dead miner costs the tick
  at most its timeout, and its failure is isolated from the others.
- A failed poll gives `available=False, stale=True`; old values are never passed off as new.
- A reboot (uptime went backwards) or a failure makes the next contact identify the miner again
  and check its MAC/serial, so a different machine at the same address is never commanded.
- Limit changes obey the deadband and minimum interval; each command is verified by reading
  back, retried with backoff, and its failure reported and shown in later readings.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from miners.catalogue import MinerSpec, get_spec
from miners.config import Credentials, MinerConfig
from miners.driver import CommandKind, CommandResult, MinerReading, MiningState
from miners.driver_link import (
    Connector,
    Identity,
    MinerAuthError,
    MinerCommandError,
    MinerIdentityError,
    MinerLink,
    Sample,
    close_link,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

# Tasks abandoned at their deadline, kept referenced until they end so none is garbage-collected
# mid-flight and their late exceptions are retrieved instead of logged as "never retrieved".
_abandoned: set[asyncio.Future[Any]] = set()


def _forget(task: asyncio.Future[Any]) -> None:
    _abandoned.discard(task)
    if not task.cancelled():
        task.exception()


async def within(coro: Coroutine[Any, Any, T], timeout_s: float) -> T:
    """Run `coro`, giving up after `timeout_s` and not waiting for it to unwind.

    `asyncio.wait_for` waits for the cancelled call to finish, and pyasic's factory swallows a
    cancellation while it cleans up its probes (`concurrent_get_first_result`), so a wait_for
    deadline can overrun. Here the late call is cancelled and left to end on its own.
    """
    task = asyncio.ensure_future(coro)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout_s)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if task in done:
        return task.result()
    task.cancel()
    _abandoned.add(task)
    task.add_done_callback(_forget)
    raise TimeoutError(f"no answer within {timeout_s:g} s")


class ChangePolicy(Protocol):
    """The parts of `miners.allocation.AllocationPolicy` the driver enforces on its own."""

    @property
    def deadband_w(self) -> float: ...

    @property
    def min_change_interval_s(self) -> float: ...


@dataclass
class _Member:
    config: MinerConfig
    spec: MinerSpec | None
    credentials: Credentials
    host: str
    timeout_s: float
    link: MinerLink | None = None
    identity: Identity | None = None
    must_identify: bool = True
    last_sample: Sample | None = None
    last_ok_at_s: float | None = None
    last_error: str | None = None
    #: What the last failed command asked for; the miner counts as unavailable until it gets there.
    command_error: str | None = None
    wanted_w: float | None = None
    wanted_sleep: bool = False
    last_change_at_s: float | None = None
    restart_until_s: float = float("-inf")

    @property
    def label(self) -> str:
        return f"miner {self.config.name} ({self.host})"


def _default_spec(key: str) -> MinerSpec | None:
    try:
        return get_spec(key)
    except KeyError:
        return None


class PyasicFleet:
    """`MinerDriver` over pyasic: one persistent handle per configured miner."""

    def __init__(
        self,
        configs: Sequence[MinerConfig],
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        credentials: Mapping[str, Credentials] | None = None,
        *,
        policy: ChangePolicy | None = None,
        connector: Connector | None = None,
        retries: int = 3,
        backoff_s: float = 0.5,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_concurrency: int = 128,
        limit_tolerance_w: float = 5.0,
        spec_for: Callable[[str], MinerSpec | None] = _default_spec,
    ) -> None:
        if timeout_s <= 0 or retries < 1 or max_concurrency < 1:
            raise ValueError("need timeout_s > 0, retries >= 1 and max_concurrency >= 1")
        self._clock = clock
        self._policy = policy
        self._retries = retries
        self._backoff_s = backoff_s
        self._sleep = sleep
        self._tolerance_w = limit_tolerance_w
        self._gate = asyncio.Semaphore(max_concurrency)
        if connector is None:
            from miners.driver_pyasic import PyasicConnector  # pyasic only when really used

            connector = PyasicConnector()
        self._connector = connector
        self._members: dict[str, _Member] = {}
        for config in configs:
            if config.name in self._members:
                raise ValueError(f"miner name {config.name!r} appears twice")
            if config.host is None:
                raise ValueError(f"miner {config.name}: no `host` configured")
            creds = credentials[config.name] if credentials and config.name in credentials else None
            self._members[config.name] = _Member(
                config=config,
                spec=spec_for(config.model),
                credentials=creds if creds is not None else config.credentials(),
                host=config.host,
                timeout_s=config.timeout_s or timeout_s,
            )

    @property
    def names(self) -> list[str]:
        return list(self._members)

    def host_of(self, name: str) -> str:
        return self._members[name].host

    def identity_of(self, name: str) -> Identity | None:
        return self._members[name].identity

    def close(self) -> None:
        """End the connections the links keep open (BOS+ gRPC). The fleet stays usable: the next
        contact identifies each miner again. Call it when the fleet is no longer needed."""
        for member in self._members.values():
            close_link(member.link)
            member.link, member.must_identify = None, True

    # ------------------------------------------------------------------ reading

    async def poll(self) -> list[MinerReading]:
        """Read every miner concurrently; each within its own timeout."""
        return list(await asyncio.gather(*(self._poll_guarded(m) for m in self._members.values())))

    async def _poll_guarded(self, member: _Member) -> MinerReading:
        async with self._gate:
            try:
                sample = await within(self._read(member), member.timeout_s)
            except (MinerCommandError, OSError, TimeoutError) as error:
                return self._failed(member, str(error) or type(error).__name__)
            except Exception as error:  # a parser crash inside pyasic must not end the loop
                return self._failed(member, f"{type(error).__name__}: {error}")
        return self._succeeded(member, sample)

    async def _read(self, member: _Member) -> Sample:
        if member.link is None or member.must_identify:
            await self._identify(member)
        assert member.link is not None
        sample = await member.link.read()
        previous = member.last_sample
        if _uptime_went_back(previous, sample):
            # Rebooted: the firmware (and so pyasic's class) may have changed, and after a
            # reboot the address may even belong to another machine. Identify again.
            log.info("event=reboot miner=%s host=%s uptime_s=%s", member.config.name, member.host,
                     sample.uptime_s)
            await self._identify(member)
            assert member.link is not None
            sample = await member.link.read()
        return sample

    async def _identify(self, member: _Member) -> None:
        close_link(member.link)  # a BOS+ link keeps its gRPC connection open until closed
        member.link = None
        link = await self._connector.connect(member.host, member.credentials)
        if link is None:
            raise MinerCommandError(f"no recognisable miner answers at {member.host}")
        identity = await link.identity()
        _check_identity(member, identity)
        if member.identity is None or member.identity != identity:
            log.info("event=identified miner=%s host=%s family=%s model=%s mac=%s", member.config.name,
                     member.host, link.family, identity.model, identity.mac)
        member.link, member.identity, member.must_identify = link, identity, False

    def _succeeded(self, member: _Member, sample: Sample) -> MinerReading:
        now = self._clock()
        member.last_sample, member.last_ok_at_s = sample, now
        if member.last_error is not None:
            log.info("event=recovered miner=%s host=%s", member.config.name, member.host)
            member.last_error = None
        if member.command_error is not None and self._reached_wanted(member, sample):
            member.command_error = None
        errors = sample.errors
        if member.command_error is not None:
            errors = (*errors, member.command_error)
        return MinerReading(
            name=member.config.name,
            available=member.command_error is None and sample.power_w is not None,
            state=self._state(member, sample, now),
            power_w=sample.power_w,
            hashrate_ths=sample.hashrate_ths,
            power_limit_w=sample.power_limit_w,
            coolant_in_c=sample.coolant_in_c,
            coolant_out_c=sample.coolant_out_c,
            errors=errors,
            polled_at_s=now,
            stale=False,
        )

    def _failed(self, member: _Member, error: str) -> MinerReading:
        now = self._clock()
        member.must_identify = True  # whatever answers next must prove who it is
        text = f"{member.label}: {error}"
        if member.last_error != error:
            log.warning("event=poll_failed miner=%s host=%s error=%s", member.config.name, member.host, error)
            member.last_error = error
        last = member.last_sample
        return MinerReading(
            name=member.config.name,
            available=False,
            state=MiningState.UNREACHABLE,
            power_w=None if last is None else last.power_w,
            hashrate_ths=None if last is None else last.hashrate_ths,
            power_limit_w=None if last is None else last.power_limit_w,
            coolant_in_c=None if last is None else last.coolant_in_c,
            coolant_out_c=None if last is None else last.coolant_out_c,
            errors=(text,),
            polled_at_s=now if member.last_ok_at_s is None else member.last_ok_at_s,
            stale=True,
        )

    def _state(self, member: _Member, sample: Sample, now: float) -> MiningState:
        restarting = now < member.restart_until_s
        if sample.mining is False:
            return MiningState.RESTARTING if restarting and not member.wanted_sleep else MiningState.SLEEPING
        if not sample.hashrate_ths and (restarting or self._just_booted(member, sample)):
            return MiningState.RESTARTING
        return MiningState.MINING

    @staticmethod
    def _just_booted(member: _Member, sample: Sample) -> bool:
        warmup_s = member.spec.wake_delay_s if member.spec is not None else 0.0
        return sample.uptime_s is not None and sample.uptime_s < warmup_s

    def _reached_wanted(self, member: _Member, sample: Sample) -> bool:
        if member.wanted_sleep:
            return sample.mining is False
        return (
            member.wanted_w is not None
            and sample.mining is not False
            and sample.power_limit_w is not None
            and abs(sample.power_limit_w - member.wanted_w) <= self._tolerance_w
        )

    # ------------------------------------------------------------------ commanding

    async def apply(
        self, limits_w: Mapping[str, float | None], *, force: bool = False
    ) -> list[CommandResult]:
        """Bring each named miner to its limit (None = sleep), concurrently; `force` skips the
        deadband and minimum-interval checks (for a person at the CLI)."""
        return list(
            await asyncio.gather(*(self._apply_guarded(name, w, force) for name, w in limits_w.items()))
        )

    async def _apply_guarded(self, name: str, target_w: float | None, force: bool) -> CommandResult:
        member = self._members.get(name)
        if member is None:
            return CommandResult(name, CommandKind.NONE, target_w, ok=False, attempts=0,
                                 error=f"unknown miner {name!r}")
        if member.last_error is not None:
            # Unreachable at the last poll: retrying commands would hold the tick for nothing.
            result = CommandResult(name, CommandKind.NONE, target_w, ok=False, attempts=0,
                                   error=f"{member.label}: not reachable at the last poll: {member.last_error}")
        else:
            async with self._gate:
                result = await self._apply_one(member, target_w, force)
        if result.ok:
            if result.kind is not CommandKind.NONE:
                member.command_error = None
        else:
            member.command_error = result.error
            member.wanted_w, member.wanted_sleep = target_w, target_w is None
            log.warning("event=command_failed miner=%s host=%s kind=%s target_w=%s error=%s", name,
                        member.host, result.kind, target_w, result.error)
        return result

    async def _apply_one(self, member: _Member, target_w: float | None, force: bool) -> CommandResult:
        name, spec, last = member.config.name, member.spec, member.last_sample
        asleep = last is not None and self._state(member, last, self._clock()) is MiningState.SLEEPING
        if target_w is None:
            member.wanted_sleep = True
            if asleep and member.command_error is None:
                return CommandResult(name, CommandKind.NONE, None, ok=True, attempts=0,
                                     reason="already asleep")
            return await self._run(member, CommandKind.SLEEP, None, None)

        watts = round(target_w)
        if spec is not None and not spec.min_power_w <= watts <= spec.max_power_w:
            return CommandResult(
                name, CommandKind.NONE, target_w, ok=False, attempts=0,
                error=f"{member.label}: {watts} W is outside {spec.key}'s range "
                f"{spec.min_power_w:g}-{spec.max_power_w:g} W",
            )
        member.wanted_sleep = False
        skip = None if force else self._why_not_change(member, watts)
        if skip is not None and not asleep:
            return CommandResult(name, CommandKind.NONE, target_w, ok=True, attempts=0, reason=skip)
        kind = CommandKind.WAKE if asleep else CommandKind.SET_LIMIT
        return await self._run(member, kind, watts if skip is None else None, target_w)

    def _why_not_change(self, member: _Member, watts: int) -> str | None:
        last = member.last_sample
        if last is None or last.power_limit_w is None or member.command_error is not None:
            return None
        change_w = abs(watts - last.power_limit_w)
        if change_w <= self._tolerance_w:
            return "already at this limit"
        if self._policy is None:
            return None
        if change_w < self._policy.deadband_w:
            return f"change {change_w:g} W inside the {self._policy.deadband_w:g} W deadband"
        since = member.last_change_at_s
        minimum_s = self._policy.min_change_interval_s
        if since is not None and self._clock() - since < minimum_s:
            return f"last change {self._clock() - since:g} s ago, minimum {minimum_s:g} s"
        return None

    async def _run(
        self, member: _Member, kind: CommandKind, watts: int | None, target_w: float | None
    ) -> CommandResult:
        """Send (limit first, then wake, so a waking miner starts at its new limit), verify, retry."""
        steps: list[tuple[str, Callable[[MinerLink], Awaitable[None]], Callable[[Sample], bool]]] = []
        if watts is not None:
            steps.append((f"set_power_limit({watts})", lambda link: link.set_power_limit(watts),
                          lambda s: s.power_limit_w is not None
                          and abs(s.power_limit_w - watts) <= self._tolerance_w))
        if kind is CommandKind.WAKE:
            steps.append(("resume_mining", lambda link: link.resume_mining(),
                          lambda s: s.mining is not False))
        if kind is CommandKind.SLEEP:
            steps.append(("stop_mining", lambda link: link.stop_mining(), lambda s: s.mining is False))
        attempts_total = 0
        for what, action, check in steps:
            ok, attempts, error = await self._with_retries(member, what, action, check)
            attempts_total += attempts
            if not ok:
                return CommandResult(member.config.name, kind, target_w, ok=False, attempts=attempts_total,
                                     error=f"{member.label}: {error}")
        now = self._clock()
        restarts = False
        if member.spec is not None:
            if watts is not None and member.spec.restarts_on_limit_change:
                member.restart_until_s = max(member.restart_until_s, now + member.spec.restart_delay_s)
                restarts = True
            if kind is CommandKind.WAKE:
                member.restart_until_s = max(member.restart_until_s, now + member.spec.wake_delay_s)
                restarts = True
        if watts is not None:
            member.last_change_at_s = now
        log.info("event=command miner=%s host=%s kind=%s target_w=%s attempts=%d", member.config.name,
                 member.host, kind, target_w, attempts_total)
        return CommandResult(member.config.name, kind, target_w, ok=True, attempts=attempts_total,
                             restarts=restarts)

    async def _with_retries(
        self, member: _Member, what: str, action: Callable[[MinerLink], Awaitable[None]],
        check: Callable[[Sample], bool],
    ) -> tuple[bool, int, str]:
        error = ""
        accepted: list[bool] = []  # set once the miner took the command without error
        for attempt in range(1, self._retries + 1):
            if attempt > 1:
                await self._sleep(self._backoff_s * 2 ** (attempt - 2))
            try:
                await within(self._send_and_verify(member, what, action, check, accepted), member.timeout_s)
                return True, attempt, ""
            except MinerAuthError as failure:
                return False, attempt, str(failure)  # the same password will be refused again
            except MinerCommandError as failure:
                error = str(failure) if str(failure).startswith(what) else f"{what}: {failure}"
            except (OSError, TimeoutError) as failure:
                error = f"{what}: {failure or type(failure).__name__}"
                member.must_identify = True  # the link may be dead or point at a rebooted miner
            except Exception as failure:
                error = f"{what}: {type(failure).__name__}: {failure}"
                member.must_identify = True
        return False, self._retries, error

    async def _send_and_verify(
        self, member: _Member, what: str, action: Callable[[MinerLink], Awaitable[None]],
        check: Callable[[Sample], bool], accepted: list[bool],
    ) -> None:
        if member.link is None or member.must_identify:
            await self._identify(member)
        link = member.link
        assert link is not None
        if accepted:
            # The miner took the command but did not show it yet: look again before resending,
            # since a firmware that restarts on a change would restart once more.
            sample = await link.read()
            member.last_sample = sample
            if check(sample):
                return
        await action(link)
        accepted.append(True)
        sample = await link.read()
        member.last_sample = sample
        if not check(sample):
            raise MinerCommandError(f"{what}: accepted but read back {_describe(sample)}")

    # ------------------------------------------------------------------ addresses

    def relocate(self, found: Iterable[Identity]) -> dict[str, str]:
        """Point miners found at a new address (same MAC or serial) there; returns {name: new ip}."""
        moved: dict[str, str] = {}
        found = list(found)
        by_mac = {i.mac: i for i in found if i.mac}
        by_serial = {i.serial: i for i in found if i.serial}
        for member in self._members.values():
            mac = member.config.mac or (member.identity.mac if member.identity else None)
            serial = member.config.serial or (member.identity.serial if member.identity else None)
            hit = by_mac.get(mac) if mac else None
            hit = hit or (by_serial.get(serial) if serial else None)
            if hit is not None and hit.ip != member.host:
                log.info("event=relocated miner=%s old_host=%s new_host=%s", member.config.name,
                         member.host, hit.ip)
                close_link(member.link)
                member.host, member.link, member.must_identify = hit.ip, None, True
                moved[member.config.name] = hit.ip
        return moved


def _check_identity(member: _Member, identity: Identity) -> None:
    expected_mac = member.config.mac or (member.identity.mac if member.identity else None)
    expected_serial = member.config.serial or (member.identity.serial if member.identity else None)
    if expected_mac and identity.mac and identity.mac != expected_mac:
        raise MinerIdentityError(
            f"expected MAC {expected_mac} at {member.host}, found {identity.mac}; not commanding it"
        )
    if expected_serial and identity.serial and identity.serial != expected_serial:
        raise MinerIdentityError(
            f"expected serial {expected_serial} at {member.host}, found {identity.serial}; not commanding it"
        )


def _uptime_went_back(previous: Sample | None, sample: Sample) -> bool:
    if previous is None or previous.uptime_s is None or sample.uptime_s is None:
        return False
    return sample.uptime_s < previous.uptime_s


def _describe(sample: Sample) -> str:
    return (f"limit={sample.power_limit_w} W mining={sample.mining} power={sample.power_w} W")
