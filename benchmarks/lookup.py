"""Benchmark: CRM lookup latency from real calls, FastAGI server vs classic AGI script.

Boots the Asterisk 22 sandbox, imports 100,000 customers into SQLite, and has test
channels run the lookup in a dialplan loop: each iteration picks a random customer's
number, stamps the time (``STRFTIME(,,%s.%6q)``) before and after ``AGI(...)`` and
reports both in a user event. FastAGI runs at ~100 lookups/s (10 channels, 10/s each);
the classic ``callflow-agi`` script (one process per lookup) runs one at a time. Prints
p50/p99 for both and their ratio::

    python benchmarks/lookup.py              # 100,000 customers, 10 s at 100/s
    python benchmarks/lookup.py 20000 5      # fewer customers, 5 s
"""

from __future__ import annotations

import asyncio
import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path

from panoramisk import Manager

from callflow.runtime.fastagi import FastAgiServer
from callflow.runtime.lookup import CustomerLookup, LookupRoute
from callflow.sandbox import Sandbox
from callflow.store import make_engine, make_sessionmaker, upgrade
from callflow.store.csv_import import import_customers

TIERS = ("vip", "gold", "silver", "standard")

BENCH_CONF = r"""
[cf-bench]
exten => run,1,Answer()
 same => n,Set(I=0)
 same => n(loop),Set(CALLERID(num)=138${SPRINTF(%08d,${RAND(0,${BENCH_MAX})})})
 same => n,Set(CF_LOOKUP=)
 same => n,Set(T0=${STRFTIME(,,%s.%6q)})
 same => n,GotoIf($["${BENCH_CLASSIC}" = "1"]?classic)
 same => n,AGI(${BENCH_URL},bench)
 same => n(after),Set(T1=${STRFTIME(,,%s.%6q)})
 same => n,UserEvent(LookupBench,t0: ${T0},t1: ${T1},ok: ${CF_LOOKUP},tier: ${CF_TIER})
 same => n,Set(I=$[${I} + 1])
 same => n,GotoIf($[${I} >= ${BENCH_N}]?done)
 same => n,Wait(${BENCH_GAP})
 same => n,Goto(loop)
 same => n(done),Hangup()
 same => n(classic),AGI(${BENCH_URL},lookup,bench)
 same => n,Goto(after)
"""


def make_db(directory: Path, customers: int) -> str:
    path = directory / "customers.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["phone", "name", "tier", "region", "tags"])
        for i in range(customers):
            writer.writerow([f"138{i:08d}", f"Customer {i}", TIERS[i % 4], "east", "a;b"])
    url = f"sqlite:///{directory / 'crm.db'}"
    upgrade(url)
    engine = make_engine(url)
    started = time.perf_counter()
    report = import_customers(engine, path, default_region="CN")
    engine.dispose()
    print(f"imported {report.imported} customers in {time.perf_counter() - started:.1f}s")
    return url


def classic_wrapper(directory: Path, url: str) -> Path:
    script = directory / "callflow-agi"
    script.write_text(
        f"#!/bin/sh\nCALLFLOW_DB='{url}' exec '{sys.executable}' -m callflow.agi_script \"$@\"\n"
    )
    script.chmod(0o755)
    return script


async def run_channels(
    pbx: Sandbox,
    target: str,
    *,
    channels: int,
    per_channel: int,
    gap: float,
    customers: int,
    classic: bool = False,
) -> list[tuple[float, float, str]]:
    samples: list[tuple[float, float, str]] = []
    done = asyncio.Event()
    expected = channels * per_channel

    def on_event(_m: object, event: dict[str, str]) -> None:
        if event.get("UserEvent") != "LookupBench":
            return
        samples.append((float(event["t0"]), float(event["t1"]), str(event.get("ok", ""))))
        if len(samples) >= expected:
            done.set()

    manager = Manager(
        host=pbx.ami_host,
        port=pbx.ami_port,
        username=pbx.ami_user,
        secret=pbx.ami_secret,
        events="on",
        ping_delay=3600,
    )
    manager.register_event("UserEvent", on_event)
    await manager.connect()
    await asyncio.wait_for(asyncio.shield(manager.authenticated_future), 5)
    for _ in range(channels):
        manager.send_action(
            {
                "Action": "Originate",
                "Channel": "Local/run@cf-bench/n",
                "Application": "Wait",
                "Data": "600",
                "Async": "true",
                "Variable": [
                    f"BENCH_URL={target}",
                    f"BENCH_N={per_channel}",
                    f"BENCH_GAP={gap:g}",
                    f"BENCH_MAX={customers - 1}",
                    f"BENCH_CLASSIC={int(classic)}",
                ],
            }
        )
        await asyncio.sleep(gap / channels if gap else 0)  # spread the channels evenly
    try:
        await asyncio.wait_for(done.wait(), timeout=per_channel * (gap + 3) + 30)
    finally:
        manager.close()
    return samples


def summary(name: str, samples: list[tuple[float, float, str]]) -> dict[str, float]:
    latencies = sorted((t1 - t0) * 1000 for t0, t1, _ in samples)
    span = max(t1 for _, t1, _ in samples) - min(t0 for t0, _, _ in samples)
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    ok = sum(1 for *_, status in samples if status == "ok")
    print(
        f"{name:9} {len(samples):5} lookups at {len(samples) / span:6.1f}/s: "
        f"p50 {p50:8.2f} ms  p99 {p99:8.2f} ms  max {latencies[-1]:8.2f} ms  ok {ok}"
    )
    return {"p50": p50, "p99": p99}


async def main(customers: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory(prefix="cf-bench-") as tmp:
        directory = Path(tmp)
        url = make_db(directory, customers)
        engine = make_engine(url)
        route = LookupRoute(CustomerLookup(make_sessionmaker(engine)), budget=0.5)
        with Sandbox() as pbx:
            (pbx.etc_dir / "cf-bench.conf").write_text(BENCH_CONF)
            ext = pbx.etc_dir / "extensions.conf"
            ext.write_text(ext.read_text() + '\n#include "cf-bench.conf"\n')
            pbx.cli("dialplan reload")
            async with FastAgiServer({"lookup": route}, port=0, budget=1.0) as server:
                fast_target = f"agi://127.0.0.1:{server.port}/lookup"
                # warm up the pool and SQLite's page cache, then measure
                await run_channels(
                    pbx, fast_target, channels=2, per_channel=20, gap=0.01, customers=customers
                )
                fast = await run_channels(
                    pbx,
                    fast_target,
                    channels=10,
                    per_channel=int(seconds * 10),
                    gap=0.1,
                    customers=customers,
                )
            script = classic_wrapper(directory, url)
            classic = await run_channels(
                pbx,
                str(script),
                channels=1,
                per_channel=30,
                gap=0,
                customers=customers,
                classic=True,
            )
        route.close()
        engine.dispose()
    print(f"{customers} customers in SQLite; latency seen by Asterisk around AGI()")
    f = summary("FastAGI", fast)
    c = summary("classic", classic)
    print(f"classic/FastAGI: p50 {c['p50'] / f['p50']:.0f}x, p99 {c['p99'] / f['p99']:.0f}x")
    print(
        f"target FastAGI p99 < 5 ms: {'met' if f['p99'] < 5 else 'MISSED'}; "
        f">= 20x faster: {'met' if c['p50'] / f['p50'] >= 20 else 'MISSED'}"
    )


if __name__ == "__main__":
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    duration = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    asyncio.run(main(rows, duration))
