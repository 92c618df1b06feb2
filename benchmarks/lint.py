"""Benchmark: lint and graph of very deep flows grow linearly.

A chain of Goto nodes (and one of menus, each leading one level deeper), at 2,500 and
10,000 nodes. Linear analysis takes about 4x as long for 4x the nodes; the walks this
replaced recursed once per node (RecursionError at 1,000) and copied the route at every
step (quadratic: 84 s at 10,000). The figure that matters is the growth ratio, measured
in one run so a busy machine moves both sizes alike:

    time(10,000) / time(2,500)      # ~4: linear; ~16: quadratic

Also shown as a baseline in the same run: ``validate`` of the same site, which was
already linear (one pass plus searches over a reversed graph)::

    python benchmarks/lint.py            # median of 5 runs per size
    python benchmarks/lint.py --reps 9
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable

from callflow import Goto, Menu, Prompt, Queue, Site, Staff, Voicemail, validate
from callflow.analysis import LintConfig, lint
from callflow.graph import to_dot, to_mermaid

SIZES = (2_500, 10_000)
STAFF = [Staff("ann", name="Ann", device="PJSIP/1", groups=("desk",))]
END = [
    Queue(id="desk", members=["desk"], max_wait=60, overflow="vm"),
    Voicemail(id="vm", mailbox="1"),
]


def goto_chain(n: int) -> Site:
    nodes = [Goto(id=f"g{i}", target=f"g{i + 1}" if i + 1 < n else "desk") for i in range(n)]
    return Site(name="gotos", entries={"1": "g0"}, staff=STAFF, nodes=[*nodes, *END])


def menu_chain(n: int) -> Site:
    nodes = [
        Menu(
            id=f"m{i}",
            prompt=Prompt("p", seconds=2),
            options={"1": f"m{i + 1}" if i + 1 < n else "desk"},
            operator="desk",
        )
        for i in range(n)
    ]
    return Site(name="menus", entries={"1": "m0"}, staff=STAFF, nodes=[*nodes, *END])


def median(fn: Callable[[], object], reps: int) -> float:
    times = []
    for _ in range(reps):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    config = LintConfig(max_depth=10**6, max_seconds=1e12)
    print(f"{'flow':<8} {'task':<9} {'2,500':>9} {'10,000':>9} {'growth':>7}  (linear: ~4)")
    for make in (goto_chain, menu_chain):
        sites = {n: make(n) for n in SIZES}
        tasks: dict[str, Callable[[Site], object]] = {
            "validate": validate,
            "lint": lambda s: lint(s, config),
            "mermaid": to_mermaid,
            "dot": to_dot,
        }
        for task, fn in tasks.items():
            t = {n: median(lambda s=sites[n], f=fn: f(s), args.reps) for n in SIZES}
            small, large = t[SIZES[0]], t[SIZES[1]]
            print(
                f"{sites[SIZES[0]].name:<8} {task:<9} {small * 1000:>7.1f}ms "
                f"{large * 1000:>7.1f}ms {large / small:>6.1f}x"
            )


if __name__ == "__main__":
    main()
