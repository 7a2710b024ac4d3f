"""Telemetry throughput into real databases: sustained points/s with no loss, and replay rate after an outage.

Runs the production path — ``Telemetry.submit`` (outbox commit, synchronous=FULL) and the writer
(influxdb-client async, ``/api/v2/write``) — against VictoriaMetrics and InfluxDB 1.x behind the
test shim, both started here on loopback from Debian's packages. Every run is verified by
reading back the point count. Not a test: figures go to BENCHMARKS.md.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_telemetry.py [--points 100000] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from boiler.telemetry import Point, Telemetry, TelemetryConfig
from tests.integration.influx_servers import InfluxDB1, VictoriaMetrics

BASE_NS = 1_706_745_600_000_000_000  # 2024-02-01T00:00:00Z
SERIES = 20  # distinct tag sets (e.g. miners)


@dataclass
class Result:
    backend: str
    scenario: str
    points: int
    seconds: float
    points_per_s: float
    verified: int
    outbox_bytes_per_point: float | None = None


def make_points(site: str, n: int) -> list[Point]:
    # Two fields per point, like a miner sample (power and hashrate); one point per series per 10 s.
    return [
        Point(
            "bench",
            {"site": site, "miner": f"m{i % SERIES:02d}"},
            {"power_w": 5000.0 + i % 997, "hashrate_ths": 190.0 + (i % 31) / 10},
            BASE_NS + (i // SERIES) * 10_000_000_000,
        )
        for i in range(n)
    ]


def config(url: str, bucket: str, token: str, outbox: Path, batch_size: int) -> TelemetryConfig:
    return TelemetryConfig(
        url=url,
        bucket=bucket,
        token=token,
        outbox_path=outbox,
        batch_size=batch_size,
        flush_interval_s=0.1,
        retry_initial_s=0.05,
        retry_max_s=0.5,
        outbox_max_points=10_000_000,
        close_timeout_s=60,
    )


async def sustained(cfg: TelemetryConfig, points: list[Point], submit_batch: int) -> float:
    """Submit continuously in batches while the writer drains; seconds until all are written."""
    async with Telemetry(cfg) as telemetry:
        start = time.perf_counter()
        for i in range(0, len(points), submit_batch):
            await telemetry.submit(points[i : i + submit_batch])
        assert await telemetry.flush(600)
        elapsed = time.perf_counter() - start
        stats = telemetry.stats()
    assert (stats.written, stats.dropped, stats.rejected) == (len(points), 0, 0), stats
    return elapsed


async def replay(
    cfg: TelemetryConfig, points: list[Point], stop: Callable[[], None], start: Callable[[], None]
) -> tuple[float, float]:
    """Queue every point while the database is down, then bring it back.

    Returns the seconds to catch up and the outbox size on disk per queued point."""
    async with Telemetry(cfg) as telemetry:
        stop()
        for i in range(0, len(points), 10_000):
            await telemetry.submit(points[i : i + 10_000])
        while telemetry.stats().failed_attempts == 0:
            await asyncio.sleep(0.01)
        size = sum(p.stat().st_size for p in cfg.outbox_path.parent.glob(cfg.outbox_path.name + "*"))
        start()
        t0 = time.perf_counter()
        assert await telemetry.flush(600)
        elapsed = time.perf_counter() - t0
        stats = telemetry.stats()
    assert (stats.written, stats.dropped) == (len(points), 0), stats
    return elapsed, size / len(points)


def count_influx(server: InfluxDB1, site: str) -> int:
    series = server.query(f"SELECT count(power_w) FROM bench WHERE site = '{site}'")
    return int(series[0]["values"][0][1]) if series else 0


def count_vm(server: VictoriaMetrics, site: str, expected: int) -> int:
    series = server.wait_for_samples(f'{{__name__="bench_power_w",site="{site}"}}', expected, timeout_s=60)
    return sum(len(s.values) for s in series)


def run(n_points: int, batch_size: int, submit_batch: int, root: Path) -> list[Result]:
    results: list[Result] = []
    influx = InfluxDB1(root / "influx").start()
    vm = VictoriaMetrics(root / "vm").start()
    try:
        backends = [
            ("victoria-metrics", vm.url, "bench", "", lambda s, n: count_vm(vm, s, n), vm.stop, vm.start),
            (
                "influxdb-1.x+shim",
                influx.url,
                influx.bucket,
                influx.token,
                lambda s, n: count_influx(influx, s),
                influx.stop_database,
                influx.start_database,
            ),
        ]
        for name, url, bucket, token, count, stop, start in backends:
            site = f"sustained-{name}"
            points = make_points(site, n_points)
            cfg = config(url, bucket, token, root / f"{name}-sustained.sqlite", batch_size)
            seconds = asyncio.run(sustained(cfg, points, submit_batch))
            results.append(
                Result(name, "sustained", n_points, seconds, n_points / seconds, count(site, n_points))
            )

            site = f"replay-{name}"
            points = make_points(site, n_points)
            cfg = config(url, bucket, token, root / f"{name}-replay.sqlite", batch_size)
            seconds, bytes_per_point = asyncio.run(replay(cfg, points, stop, start))
            results.append(
                Result(
                    name,
                    "replay",
                    n_points,
                    seconds,
                    n_points / seconds,
                    count(site, n_points),
                    bytes_per_point,
                )
            )
    finally:
        influx.close()
        vm.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=5000, help="points per write request")
    parser.add_argument(
        "--submit-batch", type=int, default=1000, help="points per submit (one outbox commit)"
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    t0 = time.perf_counter()
    make_points("build", args.points)  # Point construction validates and encodes the line once
    build_rate = args.points / (time.perf_counter() - t0)
    with tempfile.TemporaryDirectory(prefix="bench-telemetry-") as tmp:
        results = run(args.points, args.batch_size, args.submit_batch, Path(tmp))
    print(f"cpus={os.cpu_count()} points={args.points} batch_size={args.batch_size}", end=" ")
    print(f"submit_batch={args.submit_batch} build_points_per_s={build_rate:.0f}")
    header = ("backend", "scenario", "seconds", "points/s", "verified", "outbox B/pt")
    print(f"{header[0]:<20} {header[1]:<10} {header[2]:>8} {header[3]:>10} {header[4]:>9} {header[5]:>11}")
    for r in results:
        per_point = f"{r.outbox_bytes_per_point:.0f}" if r.outbox_bytes_per_point else "-"
        print(f"{r.backend:<20} {r.scenario:<10} {r.seconds:>8.2f} {r.points_per_s:>10.0f}", end=" ")
        print(f"{r.verified:>9} {per_point:>11}")
        if r.verified != r.points:
            raise SystemExit(f"LOSS: {r.backend} {r.scenario} verified {r.verified} of {r.points}")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))


if __name__ == "__main__":
    main()
