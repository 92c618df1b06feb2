"""Live ARI runtime vs compiled dialplan: the same IVR, the same sandbox, one run.

Each call answers, waits ~3 s then presses 1 in a menu and is hung up on by the site
(``menu`` -> ``done``), so at R new calls/s about 4.5*R calls are up at once. The runtime
runs in its own process so that its CPU time can be read from /proc; the AMI call driver
(this process) and Asterisk share the same two cores::

    .venv/bin/python benchmarks/live.py --rates 50,80 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from callflow.deploy import CliControl, deploy
from callflow.model import Hangup, Menu, Prompt, Queue, Site, Staff
from callflow.runtime.ari import AriSettings
from callflow.runtime.interpreter import app_name
from callflow.runtime.server import LiveService, configure_logging
from callflow.runtime.services import Supervisor
from callflow.sandbox import Sandbox, provision
from callflow.testing import CallDriver, install_placeholder_prompts

SITE = Site(
    name="bench",
    entries={"100": "menu"},
    nodes=[
        Menu(
            id="menu",
            prompt=Prompt("beep"),
            options={"1": "done"},
            operator="desk",
            timeout=5,
            tries=1,
            failure="done",
        ),
        Hangup(id="done"),
        Queue(id="desk", members=["ann"], max_wait=5, overflow="done"),
    ],
    staff=[Staff("ann", name="Ann", device="PJSIP/callflow-nobody", groups=("desk",))],
)
EXPECTED = (["menu", "done"], "hangup")
TICKS = os.sysconf("SC_CLK_TCK")


def install(pbx: Sandbox) -> tuple[str, str]:
    install_placeholder_prompts(pbx, SITE)
    deploy(SITE, pbx.etc_dir, asterisk=CliControl(pbx.asterisk_command()))
    conf = pbx.etc_dir / "callflow-live-bench.conf"
    conf.write_text(
        "[cf-bench-live]\n"
        f"exten => 100,1,Stasis({app_name(SITE.name)},100)\n"
        " same => n,Goto(cf-bench-entry,100,1)\n"
    )
    main = pbx.etc_dir / "extensions.conf"
    main.write_text(main.read_text() + f'#include "{conf.name}"\n')
    pbx.cli("dialplan reload")
    return "cf-bench-live", "cf-bench-entry"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def load(driver: CallDriver, context: str, rate: float, seconds: float) -> dict[str, float]:
    handles = []
    inflight = peak = 0
    failed = 0
    ok = 0

    async def one(handle: object) -> None:
        nonlocal inflight, failed, ok
        try:
            result = await handle.wait_end()  # type: ignore[attr-defined]
            if (result.trace, result.dest) == EXPECTED:
                ok += 1
            else:
                failed += 1
        except Exception:
            failed += 1
        finally:
            inflight -= 1

    started = time.monotonic()
    tasks = []
    n = 0
    while time.monotonic() - started < seconds:
        due = started + n / rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        try:
            handle = await driver.start_call(context, "100", dtmf="wwwwww1", hold=5, timeout=30)
        except Exception:
            failed += 1
            n += 1
            continue
        handles.append(handle)
        inflight += 1
        peak = max(peak, inflight)
        tasks.append(asyncio.create_task(one(handle)))
        n += 1
    offered = time.monotonic() - started
    await asyncio.gather(*tasks)
    return {
        "offered_rate": round(n / offered, 1),
        "calls": n,
        "ok": ok,
        "failed": failed,
        "peak_concurrent": peak,
        "seconds": round(time.monotonic() - started, 1),
    }


async def bench(pbx: Sandbox, rates: list[float], seconds: float) -> list[dict[str, object]]:
    live, compiled = install(pbx)
    settings = {
        "url": pbx.ari_url,
        "user": pbx.ari_user,
        "password": pbx.ari_password,
    }
    runtime = subprocess.Popen(
        [sys.executable, __file__, "--serve"],
        stdin=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert runtime.stdin is not None
    runtime.stdin.write(json.dumps(settings).encode())
    runtime.stdin.close()
    await asyncio.sleep(2)
    rows: list[dict[str, object]] = []
    try:
        async with CallDriver.from_sandbox(pbx, action_timeout=30) as driver:
            for rate in rates:
                for mode, context in (("compiled", compiled), ("live", live)):
                    cpu0, t0 = cpu_seconds(runtime.pid), time.monotonic()
                    row: dict[str, object] = {"mode": mode, "rate": rate}
                    row.update(await load(driver, context, rate, seconds))
                    wall = time.monotonic() - t0
                    row["runtime_cpu_pct"] = round(
                        100 * (cpu_seconds(runtime.pid) - cpu0) / wall, 1
                    )
                    print(json.dumps(row), flush=True)
                    rows.append(row)
                    await asyncio.sleep(3)
    finally:
        runtime.send_signal(signal.SIGTERM)
        runtime.wait(timeout=20)
    return rows


async def serve_from_stdin() -> None:
    data = json.loads(sys.stdin.read())
    configure_logging()
    settings = AriSettings(data["url"], data["user"], data["password"], app_name(SITE.name))
    # as `callflow serve` runs it: until SIGTERM, then calls go back to the dialplan
    await Supervisor({"live app": LiveService(SITE, settings)}).run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rates", default="50", help="new calls per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve_from_stdin())
        return
    with Sandbox(provision()) as pbx:
        rows = asyncio.run(bench(pbx, [float(r) for r in args.rates.split(",")], args.seconds))
    by = {(r["mode"], r["rate"]): r for r in rows}
    for rate in [float(r) for r in args.rates.split(",")]:
        c, lv = by[("compiled", rate)], by[("live", rate)]
        print(
            f"rate {rate:g}/s: compiled ok {c['ok']}/{c['calls']} (peak {c['peak_concurrent']}), "
            f"live ok {lv['ok']}/{lv['calls']} (peak {lv['peak_concurrent']}, "
            f"runtime CPU {lv['runtime_cpu_pct']}%)"
        )


if __name__ == "__main__":
    main()
