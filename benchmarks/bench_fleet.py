"""Benchmark: the pyasic fleet driver against 1,000 emulated miners over loopback sockets.

    .venv/bin/python benchmarks/bench_fleet.py [--count 1000] [--family whatsminer] [--cycles 3]
        [--period-s 10] [--steady-s 60] [--first-ip 127.0.100.1] [--concurrency 128]
        [--bos-client kept|pyasic]

The emulator runs in a separate process (`boiler emulate`), as a real fleet would be elsewhere.
Reported, with the CPU of both processes:
  * connect: the first poll, which identifies every miner with pyasic's factory;
  * full cycle: poll every miner, allocate a new target (chosen so that most limits change),
    send the changed limits (each verified by reading back);
  * steady state: the control loop at a fixed period with a constant target, CPU share.
`--bos-client pyasic` leaves Braiins OS+ miners on pyasic's own gRPC client (a connection per
call, betterproto decoding) instead of ours (one kept channel per miner, polled replies decoded
from bytes: miners/bos_web.py), to compare the two. The load average is printed before and after,
since the machine may be shared.
Not a test: the figures go to BENCHMARKS.md with the machine they were measured on.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import resource
import time
import warnings
from dataclasses import dataclass

from _processes import DEFAULT_MODEL, process_cpu_s, start_emulator

from miners.allocation import AllocationPolicy, FleetMember, allocate, commit
from miners.catalogue import get_spec
from miners.config import MinerConfig
from miners.driver import MinerReading, MiningState
from miners.driver_pyasic import PyasicConnector
from miners.fleet import PyasicFleet


@dataclass
class Span:
    wall_s: float
    driver_cpu_s: float
    emulator_cpu_s: float

    def line(self, label: str) -> str:
        total = self.driver_cpu_s + self.emulator_cpu_s
        return (f"{label}: wall {self.wall_s:.2f} s, CPU driver {self.driver_cpu_s:.2f} s + emulator "
                f"{self.emulator_cpu_s:.2f} s = {total:.2f} s ({100 * total / self.wall_s / 2:.0f} % of 2 cores)")


class Meter:
    def __init__(self, emulator_pid: int) -> None:
        self.pid = emulator_pid

    def __enter__(self) -> Meter:
        self._t, self._cpu, self._emu = time.perf_counter(), time.process_time(), process_cpu_s(self.pid)
        return self

    def __exit__(self, *exc: object) -> None:
        self.span = Span(time.perf_counter() - self._t, time.process_time() - self._cpu,
                         process_cpu_s(self.pid) - self._emu)


def members(readings: list[MinerReading], model: str, fleet: dict[str, FleetMember]) -> list[FleetMember]:
    for r in readings:
        member = fleet.setdefault(r.name, FleetMember(r.name, get_spec(model), r.available, r.power_limit_w))
        member.available = r.available
        member.limit_w = None if r.state is MiningState.SLEEPING else r.power_limit_w
    return list(fleet.values())


async def cycle(driver: PyasicFleet, model: str, fleet: dict[str, FleetMember], target_w: float,
                policy: AllocationPolicy, now_s: float) -> tuple[int, int, int]:
    readings = await driver.poll()
    plan = allocate(target_w, members(readings, model, fleet), now_s, policy)
    results = await driver.apply({name: plan.limits_w[name] for name in plan.changed})
    commit(plan, list(fleet.values()), now_s)
    return sum(r.available for r in readings), len(plan.changed), sum(r.ok for r in results)


async def run(args: argparse.Namespace, ips: list[str], pid: int) -> None:
    model = DEFAULT_MODEL[args.family]
    configs = [MinerConfig(name=f"m{i:04d}", model=model, host=ip) for i, ip in enumerate(ips)]
    policy = AllocationPolicy(deadband_w=200.0, min_change_interval_s=0.0, max_changes_per_day=10_000)
    connector = PyasicConnector(persistent_bos=args.bos_client == "kept")
    driver = PyasicFleet(configs, timeout_s=args.timeout_s, policy=policy, max_concurrency=args.concurrency,
                         connector=connector)
    try:
        await measure(args, driver, policy, model, pid, len(ips))
    finally:
        driver.close()


async def measure(args: argparse.Namespace, driver: PyasicFleet, policy: AllocationPolicy, model: str, pid: int,
                  count: int) -> None:
    spec = get_spec(model)
    fleet: dict[str, FleetMember] = {}

    with Meter(pid) as meter:
        readings = await driver.poll()
    ok = sum(r.available for r in readings)
    print(meter.span.line(f"connect (identify + first read of {count})") + f"; available {ok}")

    top_w = spec.max_power_w * count
    for k in range(args.cycles):
        target = top_w * (0.55 if k % 2 == 0 else 0.8)
        with Meter(pid) as meter:
            available, changed, confirmed = await cycle(driver, model, fleet, target, policy, time.monotonic())
        print(meter.span.line(f"full cycle {k + 1}") +
              f"; available {available}, limits changed {changed}, confirmed {confirmed}")

    if args.steady_s > 0:
        target = top_w * 0.8
        ticks = 0
        worst_s = 0.0
        with Meter(pid) as meter:
            deadline = time.perf_counter() + args.steady_s
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                await cycle(driver, model, fleet, target, policy, time.monotonic())
                ticks += 1
                busy = time.perf_counter() - t0
                worst_s = max(worst_s, busy)
                await asyncio.sleep(max(0.0, args.period_s - busy))
        print(meter.span.line(f"steady state, {ticks} ticks at {args.period_s:g} s") +
              f"; slowest tick {worst_s:.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--family", choices=sorted(DEFAULT_MODEL), default="whatsminer")
    ap.add_argument("--first-ip", default="127.0.100.1")
    ap.add_argument("--cycles", type=int, default=3)
    ap.add_argument("--period-s", type=float, default=10.0)
    ap.add_argument("--steady-s", type=float, default=60.0)
    ap.add_argument("--timeout-s", type=float, default=5.0)
    ap.add_argument("--concurrency", type=int, default=128)
    ap.add_argument("--bos-client", choices=["kept", "pyasic"], default="kept",
                    help="Braiins OS+ gRPC: our kept channel and raw decoding, or pyasic's own client")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    import pyasic  # noqa: F401  (configures the root logger on import; quiet it after)

    logging.basicConfig(level=logging.ERROR, force=True)  # unavailable miners are counted, not logged
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; {args.count} × {DEFAULT_MODEL[args.family]} ({args.family}), "
          f"concurrency {args.concurrency}, timeout {args.timeout_s:g} s, BOS+ client {args.bos_client}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    t0 = time.perf_counter()
    proc, ips = start_emulator(args.count, args.family, args.first_ip)
    print(f"emulator up in {time.perf_counter() - t0:.1f} s (pid {proc.pid})")
    try:
        asyncio.run(run(args, ips, proc.pid))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"peak RSS of the driver process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
