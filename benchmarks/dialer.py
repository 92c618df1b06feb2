"""The dialer: achieved calls per second vs the target, the concurrency cap, CPU per call.

For each target rate, ``callflow campaign run --cps R`` (a subprocess, as in production)
dials R x ``--seconds`` contacts of a playback campaign over Local channels into a callee
that answers, waits 1 s and hangs up. Measured from Asterisk's side: the achieved rate
(each callee's dialplan sends an AMI UserEvent; rate = (n-1) / (last - first)) and the
live originated channels (``GET /channels`` every 50 ms). The dialer's CPU per call is its
process CPU time minus the CPU of a run with nothing to dial (start-up, imports).

Baseline in the same run: a bare ARI originate loop (``POST /channels`` at the same rate
and the same endpoint, no store, no events) in its own process::

    .venv/bin/python benchmarks/dialer.py [--rates 10,25,50] [--seconds 8] [--concurrency 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from callflow.deploy import CliControl, deploy
from callflow.loader import load_site
from callflow.runtime.ami import AmiAddress, AmiConnection
from callflow.sandbox import Sandbox, provision
from callflow.store import make_engine, make_sessionmaker, upgrade
from callflow.store.campaigns import CampaignContact

SITE_SOURCE = """
from callflow import Hangup, Site
from callflow.model.campaigns import CallingWindow, Campaign
from callflow.model.schedule import Hours

bench = Campaign(
    id="bench",
    kind="playback",
    message="beep",
    caller_id="+442079460999",
    window=CallingWindow(hours=(Hours("mon-sun", "00:00", "23:59"),)),
    endpoint="Local/{number}@cf-bench-callee",
    ring_seconds=15,
    max_attempts=1,
    concurrency=CONCURRENCY,
)
site = Site(name="dialb", entries={"100": "bye"}, nodes=(Hangup(id="bye"),),
            campaigns=(bench,), timezone="Europe/London")
"""

CALLEE = r"""
[cf-bench-callee]
exten => _+X.,1,UserEvent(BenchCall,number: ${EXTEN})
 same => n,Answer()
 same => n,Wait(1)
 same => n,Hangup()
"""
CONTEXT = "cf-dialb-campaign-bench"


def install(pbx: Sandbox, site_file: Path) -> None:
    deploy(load_site(str(site_file)), pbx.etc_dir, asterisk=CliControl(pbx.asterisk_command()))
    (pbx.etc_dir / "cf-bench-callee.conf").write_text(CALLEE)
    ext = pbx.etc_dir / "extensions.conf"
    ext.write_text(ext.read_text() + '\n#include "cf-bench-callee.conf"\n')
    pbx.cli("dialplan reload")


def numbers(start: int, count: int) -> list[str]:
    return [f"+44207946{i:04d}" for i in range(start, start + count)]


def make_store(path: Path, wanted: list[str]) -> str:
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    with make_sessionmaker(engine).begin() as session:
        session.add_all(
            CampaignContact(site="dialb", campaign="bench", number=n, source="csv") for n in wanted
        )
    engine.dispose()
    return url


class Watch:
    """Asterisk's side: callee events (times) and the live originated channels."""

    def __init__(self, pbx: Sandbox) -> None:
        self.pbx = pbx
        self.times: list[float] = []
        self.peak = 0
        self.ami = AmiConnection(
            AmiAddress(pbx.ami_host, pbx.ami_port), pbx.ami_user, pbx.ami_secret, events="user"
        )
        self.ami.on("UserEvent", self._event)
        self._polling = False

    def _event(self, event: Any) -> None:
        if event.get("UserEvent") == "BenchCall":
            self.times.append(time.monotonic())

    def reset(self) -> None:
        self.times.clear()
        self.peak = 0

    async def poll(self) -> None:
        auth = aiohttp.encode_basic_auth(self.pbx.ari_user, self.pbx.ari_password)
        async with aiohttp.ClientSession(headers={"Authorization": auth}) as http:
            while self._polling:
                async with http.get(f"{self.pbx.ari_url}/channels") as response:
                    channels = await response.json()
                # the originated halves: Local/<number>@cf-bench-callee-<n>;1
                ours = sum(c["name"].endswith(";1") for c in channels)
                self.peak = max(self.peak, ours)
                await asyncio.sleep(0.05)

    def rate(self) -> float:
        t = sorted(self.times)
        return (len(t) - 1) / (t[-1] - t[0]) if len(t) > 1 else 0.0


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def run_process(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    """(CPU seconds, stdout) of one child process."""
    before = child_cpu()
    proc = await asyncio.to_thread(
        subprocess.run, argv, env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return child_cpu() - before, proc.stdout


def dialer_argv(pbx: Sandbox, site_file: Path, rate: float, concurrency: int) -> list[str]:
    return [
        str(Path(sys.executable).parent / "callflow"), "campaign", "run", str(site_file),
        "bench", "--json", "--until-idle", "--cps", str(rate),
        "--concurrency", str(concurrency), "--ari-url", pbx.ari_url, "--ari-user", pbx.ari_user,
    ]  # fmt: skip


async def bare_loop(url: str, user: str, password: str, rate: float, calls: list[str]) -> None:
    """The baseline: originate at ``rate`` with nothing else (no store, no events)."""
    started = time.process_time()
    auth = aiohttp.encode_basic_auth(user, password)
    async with aiohttp.ClientSession(headers={"Authorization": auth}) as http:
        t0 = time.monotonic()
        for i, number in enumerate(calls):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            params = {
                "endpoint": f"Local/{number}@cf-bench-callee",
                "context": CONTEXT,
                "extension": "s",
                "timeout": "15",
            }
            async with http.post(f"{url}/channels/{uuid.uuid4().hex}", params=params,
                                 json={"variables": {}}) as response:  # fmt: skip
                await response.read()
    print(json.dumps({"cpu": time.process_time() - started}))


async def bench(pbx: Sandbox, rates: list[float], seconds: float, concurrency: int) -> list[Any]:
    work = Path(tempfile.mkdtemp(prefix="cf-dialer-bench-"))
    site_file = work / "dialb.py"
    site_file.write_text(SITE_SOURCE.replace("CONCURRENCY", str(concurrency)))
    install(pbx, site_file)
    env = {**os.environ, "CALLFLOW_ARI_PASSWORD": pbx.ari_password}
    watch = Watch(pbx)
    await watch.ami.connect(5)
    # what a dialer costs with nothing to dial (start-up, imports, reconcile)
    env["CALLFLOW_DB"] = make_store(work / "idle.db", [])
    idle_cpu, _ = await run_process(dialer_argv(pbx, site_file, 10, concurrency), env)
    results = []
    start = 0
    for rate in rates:
        count = int(rate * seconds)
        # the dialer
        env["CALLFLOW_DB"] = make_store(work / f"d{rate}.db", numbers(start, count))
        start += count
        watch.reset()
        watch._polling = True
        poller = asyncio.create_task(watch.poll())
        cpu, out = await run_process(dialer_argv(pbx, site_file, rate, concurrency), env)
        await asyncio.sleep(2.5)
        watch._polling = False
        await poller
        summary = json.loads(out)
        dialer = {
            "achieved": watch.rate(),
            "calls": len(watch.times),
            "peak_live": watch.peak,
            "cpu_ms_per_call": 1000 * (cpu - idle_cpu) / max(1, len(watch.times)),
            "dispositions": summary["dispositions"],
        }
        # the baseline: a bare originate loop at the same rate
        watch.reset()
        bare_numbers = numbers(start, count)
        start += count
        argv = [sys.executable, __file__, "--bare", str(rate), ",".join(bare_numbers)]
        bare_env = {**env, "BENCH_ARI": json.dumps([pbx.ari_url, pbx.ari_user, pbx.ari_password])}
        _, out = await run_process(argv, bare_env)
        await asyncio.sleep(2.5)
        calls = max(1, len(watch.times))
        bare = {"achieved": watch.rate(), "calls": len(watch.times),
                "cpu_ms_per_call": 1000 * json.loads(out)["cpu"] / calls}  # fmt: skip
        results.append({"target": rate, "dialer": dialer, "bare": bare})
        print(json.dumps(results[-1]), flush=True)
    watch.ami.close()
    return results


def report(results: list[Any], concurrency: int) -> None:
    print(f"\n| target CPS | dialer achieved | within ±5 % | peak live (cap {concurrency}) "
          "| dialer CPU/call | bare loop achieved | bare loop CPU/call |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for r in results:
        d, b = r["dialer"], r["bare"]
        ok = abs(d["achieved"] - r["target"]) <= 0.05 * r["target"]
        print(f"| {r['target']:g} | {d['achieved']:.2f} ({d['calls']} calls) | "
              f"{'yes' if ok else 'NO'} | {d['peak_live']} | {d['cpu_ms_per_call']:.2f} ms | "
              f"{b['achieved']:.2f} | {b['cpu_ms_per_call']:.2f} ms |")  # fmt: skip


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--bare":
        url, user, password = json.loads(os.environ["BENCH_ARI"])
        asyncio.run(bare_loop(url, user, password, float(sys.argv[2]), sys.argv[3].split(",")))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="10,25,50")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    with Sandbox(provision()) as pbx:
        results = asyncio.run(bench(pbx, rates, args.seconds, args.concurrency))
    report(results, args.concurrency)


if __name__ == "__main__":
    main()
