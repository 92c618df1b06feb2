"""Benchmark: predictive pacing against progressive dialling, in the campaign simulator.

For each abandon target (1 %, 3 %, 5 %), ``--runs`` seeded simulations of a
``--contacts``-call campaign with ``--agents`` agents (callflow.dialer.simulator, the
defaults of ``CampaignModel``: 35 % answered by a person, 15 % by a machine with AMD,
10 % of contacts in a protected tier, talk 180 s lognormal, wrap-up 30 s, abandon limit
2 s). The baseline is progressive dialling (one call per free agent) of the very same
contacts (same seeds) in the same run. Checked for every run (issue 12's done-when):

- the measured abandon rate is at or under the target,
- no protected-tier customer is abandoned,

and printed: the worst run's abandon rate, mean agent occupancy of both modes and their
ratio (the margin), the lowest per-seed ratio, and the wall time::

    python benchmarks/pacing.py                 # 20 runs x 10,000 calls per target
    python benchmarks/pacing.py --runs 50 --agents 50

Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from callflow.dialer.simulator import CampaignModel, SimResult, simulate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--targets", default="1,3,5", help="abandon targets in percent")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    model = CampaignModel(agents=args.agents, contacts=args.contacts)
    seeds = range(args.seed, args.seed + args.runs)
    targets = [float(t) / 100 for t in args.targets.split(",")]

    start = time.perf_counter()
    progressive = [simulate(model, "progressive", targets[0], seed=s) for s in seeds]
    base_wall = time.perf_counter() - start
    base_occ = statistics.mean(r.occupancy for r in progressive)
    print(
        f"{args.runs} runs x {args.contacts:,} calls, {args.agents} agents, seeds "
        f"{seeds[0]}-{seeds[-1]}; progressive (baseline, same seeds): occupancy "
        f"{base_occ:.1%}, abandoned {sum(r.abandoned for r in progressive)}, "
        f"{base_wall:.1f} s"
    )
    print(
        "| target | runs | max abandon rate | mean occupancy predictive | progressive | ratio "
        "| lowest per-seed ratio | protected abandons | contacts/h pred / prog | wall time |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    failed = []
    for target in targets:
        t0 = time.perf_counter()
        runs: list[SimResult] = [simulate(model, "predictive", target, seed=s) for s in seeds]
        wall = time.perf_counter() - t0
        occ = statistics.mean(r.occupancy for r in runs)
        worst = max(r.abandon_rate for r in runs)
        protected = sum(r.protected_abandoned for r in runs)
        lowest = min(r.occupancy / b.occupancy for r, b in zip(runs, progressive, strict=True))
        cph = statistics.mean(r.contacts_per_hour for r in runs)
        base_cph = statistics.mean(r.contacts_per_hour for r in progressive)
        over = [r.seed for r in runs if r.abandon_rate > target]
        if over:
            failed.append(f"target {target:.0%}: abandon rate over target with seeds {over}")
        if protected:
            failed.append(f"target {target:.0%}: {protected} protected customers abandoned")
        print(
            f"| {target:.0%} | {len(runs)} | {worst:.2%} | {occ:.1%} | {base_occ:.1%} | "
            f"{occ / base_occ:.3f} | {lowest:.3f} | {protected} | {cph:.0f} / {base_cph:.0f} | "
            f"{wall:.1f} s |"
        )
    calls = args.contacts * args.runs * (len(targets) + 1)
    total = time.perf_counter() - start
    print(f"simulated {calls:,} calls in {total:.1f} s ({calls / total:,.0f} calls/s)")
    for line in failed:
        print(f"FAILED: {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
