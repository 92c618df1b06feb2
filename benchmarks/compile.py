"""Benchmark: how long compiling a site takes, small and very large.

Measures ``compile_site`` (validate + build the IR + render the three files) for

(a) the 4S dealer example (target < 50 ms);
(b) a generated site with 10,000 menus and 1,000 queues (target < 1 s);
(c) the generated site at 1/4, 1/2 and full size, as time per node, to show growth is
    roughly linear;
(d) a baseline measured in the same run: rendering a trivial Jinja2 template
    (``exten => ...`` with one variable per line) to as many lines as the site's compiled
    files have. That is the floor for any compiler that writes this much text through
    Jinja2; every figure is also shown as a multiple of it;
(e) with ``--deploy``: ``callflow.deploy.deploy`` (compile, write a new version, reload,
    verify against what Asterisk reports) into a throwaway sandbox, for the two examples
    and the generated site.

Every figure is the median of several runs timed with ``time.perf_counter``::

    python benchmarks/compile.py             # (a)-(d)
    python benchmarks/compile.py --reps 9    # more repetitions
    python benchmarks/compile.py --deploy    # also deploy + verify on the Asterisk sandbox
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2

from callflow import (
    Lookup,
    Member,
    Menu,
    PriorityRule,
    Prompt,
    Queue,
    Site,
    Staff,
    Voicemail,
    compile_site,
    validate,
)
from callflow.compiler.dialplan import build
from callflow.compiler.render import render
from callflow.loader import load_site

ROOT = Path(__file__).resolve().parent.parent
FOUR_S = ROOT / "examples" / "four_s_dealer.py"
TARGET_4S = 0.050
TARGET_LARGE = 1.0
BRANCHING = 9  # digits 1-9 lead deeper; 0 is the operator


def generated_site(menus: int = 10_000, queues: int = 1_000) -> Site:
    """A site whose flow is a tree of ``menus`` menus with ``queues`` queues as leaves.

    Menu ``m<i>`` offers digits 1-9 leading to menus ``m<9i+1>`` .. ``m<9i+9>``; a menu
    with no menus below it offers three queues instead. Every menu's 0 (and failure)
    goes to the operator queue ``q0``. Every queue has a group of two agents plus a
    supervisor at penalty 2, a ``max_wait`` and an overflow to one of ``queues // 10``
    voicemail boxes. A CRM lookup answers first, so the site-wide VIP rule applies.
    The site validates with no errors and no warnings.
    """
    if menus < 1 or queues < 1:
        raise ValueError("need at least one menu and one queue")
    teams = max(1, queues // 10)
    boxes = max(1, queues // 10)
    staff = [Staff("boss", name="Supervisor", device="PJSIP/9999", groups=("supervisors",))]
    for t in range(teams):
        for k in range(2):
            n = 2 * t + k
            staff.append(
                Staff(
                    f"agent{n}",
                    name=f"Agent {n}",
                    device=f"PJSIP/{10000 + n}",
                    groups=(f"team{t}",),
                )
            )
    nodes: list[Any] = [Lookup(id="identify", next="m0")]
    next_queue = 0
    for i in range(menus):
        children = [c for c in range(BRANCHING * i + 1, BRANCHING * i + BRANCHING + 1) if c < menus]
        if children:
            options = {str(d): f"m{c}" for d, c in enumerate(children, 1)}
        else:
            options = {str(d): f"q{(next_queue + d - 1) % queues}" for d in (1, 2, 3)}
            next_queue += 3
        nodes.append(
            Menu(
                id=f"m{i}",
                prompt=Prompt(f"custom/menu-{i}", text=f"menu {i}"),
                options=options,
                operator="q0",
                failure="q0",
                tries=2,
            )
        )
    for q in range(queues):
        nodes.append(
            Queue(
                id=f"q{q}",
                members=[f"team{q % teams}", Member("supervisors", penalty=2)],
                max_wait=120,
                overflow=f"vm{q % boxes}",
            )
        )
    nodes.extend(Voicemail(id=f"vm{b}", mailbox=str(10000 + b)) for b in range(boxes))
    return Site(
        name="generated",
        timezone="Asia/Shanghai",
        entries={"100": "identify"},
        staff=staff,
        nodes=nodes,
        priority=PriorityRule({"vip": 10, "gold": 5}),
    )


# -- timing ---------------------------------------------------------------------------------


def median_time(fn: Callable[[], object], reps: int) -> float:
    """Median wall time of ``reps`` calls of ``fn`` (after one untimed warm-up call)."""
    fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


_TRIVIAL = "{% for v in values %}exten => {{ v }},1,NoOp()\n{% endfor %}"


def baseline(lines: int, reps: int) -> float:
    """Median time to render a trivial Jinja2 template to ``lines`` lines (see above)."""
    template = jinja2.Environment(keep_trailing_newline=True).from_string(_TRIVIAL)
    values = [f"s{n}" for n in range(lines)]
    return median_time(lambda: template.render(values=values), reps)


def output_lines(site: Site) -> int:
    return sum(text.count("\n") for text in compile_site(site).files.values())


def ms(seconds: float) -> str:
    if seconds < 0.01:
        return f"{seconds * 1000:9.2f} ms"
    return f"{seconds * 1000:9.1f} ms"


HEADER = (
    f"{'case':<30} {'nodes':>6} {'median':>12} {'per node':>10} {'baseline':>12} "
    f"{'ratio':>7}  target"
)


def row(name: str, nodes: int, seconds: float, base: float, target: str = "") -> str:
    per_node = f"{seconds / nodes * 1e6:7.1f} us"
    return (
        f"{name:<30} {nodes:>6} {ms(seconds)} {per_node:>10} {ms(base)} "
        f"{seconds / base:6.1f}x  {target}"
    ).rstrip()


def check_clean(site: Site) -> None:
    problems = validate(site)
    if problems:
        raise SystemExit(f"{site.name}: not clean:\n" + "\n".join(map(str, problems[:10])))


def verdict(seconds: float, limit: float) -> str:
    return f"< {limit * 1000:g} ms {'ok' if seconds < limit else 'MISSED'}"


def with_back_links(site: Site) -> Site:
    """The same site where every menu but the first also offers ``*``: back to ``m0``."""
    nodes = [
        dataclasses.replace(n, options={**n.options, "*": "m0"})
        if isinstance(n, Menu) and n.id != "m0"
        else n
        for n in site.nodes
    ]
    return dataclasses.replace(site, nodes=nodes)


def timed_compile(site: Site, reps: int) -> tuple[float, float]:
    """(median compile time, baseline for the same number of output lines)."""
    return median_time(lambda: compile_site(site), reps), baseline(output_lines(site), reps)


def growth(title: str, sites: dict[str, Site], reps: int) -> None:
    print(f"\n{title}")
    print(HEADER)
    per_node = []
    for name, site in sites.items():
        t, b = timed_compile(site, reps)
        per_node.append(t / len(site.nodes))
        print(row(f"    {name}", len(site.nodes), t, b))
    print(f"    time per node, largest / smallest size: {per_node[-1] / per_node[0]:.2f}")


def run(reps: int) -> None:
    four_s = load_site(str(FOUR_S))
    sites = {
        f"{frac} size": generated_site(m, q)
        for frac, m, q in (("1/4", 2_500, 250), ("1/2", 5_000, 500), ("full", 10_000, 1_000))
    }
    looped = {
        f"{m:,} menus, * -> m0": with_back_links(generated_site(m, m // 10)) for m in (500, 1_000)
    }
    for site in (four_s, *sites.values(), *looped.values()):
        check_clean(site)
    large = sites["full size"]

    print(f"compile_site = validate + build IR + render; median of {reps} runs (4S: {reps * 5})")
    print("baseline = Jinja2 rendering a trivial template to as many lines as the output has\n")
    print(HEADER)
    t, b = timed_compile(four_s, reps * 5)
    print(row("(a) 4S dealer", len(four_s.nodes), t, b, verdict(t, TARGET_4S)))
    t, b_large = timed_compile(large, reps)
    print(row("(b) 10k menus, 1k queues", len(large.nodes), t, b_large, verdict(t, TARGET_LARGE)))

    growth("(c) growth: the generated site at 1/4, 1/2 and full size", sites, reps)
    growth(
        "    growth when every menu offers * back to the top menu (fewer menus: it is slow)",
        looped,
        max(1, reps // 2),
    )

    print("\n    where the full-size time goes")
    print(HEADER)
    ir = build(large)
    stages: list[tuple[str, Callable[[], object]]] = [
        ("validate", lambda: validate(large)),
        ("build IR", lambda: build(large)),
        ("render + line check", lambda: render(ir)),
    ]
    for name, fn in stages:
        print(row(f"    {name}", len(large.nodes), median_time(fn, reps), b_large))
    gc.disable()
    try:
        t = median_time(lambda: compile_site(large), reps)
    finally:
        gc.enable()
    print(row("    compile_site, gc disabled", len(large.nodes), t, b_large))


# -- deploy (optional) ----------------------------------------------------------------------


def run_deploy(reps: int) -> None:
    """Deploy + verify (``callflow.deploy.deploy``) into a throwaway sandbox."""
    print("\n(e) deploy + verify on the Asterisk sandbox (compile, write, reload, verify)")
    try:
        from callflow.deploy import CliControl, LogReader, deploy
        from callflow.sandbox import Sandbox, SandboxError
        from callflow.testing import without_phones
    except ImportError as exc:
        print(f"    skipped: {exc}")
        return

    hotline = load_site(str(ROOT / "examples" / "ecommerce_hotline.py"))
    four_s = without_phones(load_site(str(FOUR_S)))  # no carrier to register with here
    try:
        pbx = Sandbox().start()
    except (SandboxError, OSError) as exc:
        print(f"    skipped: no sandbox ({exc})")
        return
    try:
        control = CliControl(pbx.asterisk_command(), timeout=120)
        log = LogReader(pbx.messages_log)

        def timed(site: Site) -> tuple[float, Any]:
            start = time.perf_counter()
            result = deploy(site, pbx.etc_dir, asterisk=control, log_reader=log)
            return time.perf_counter() - start, result

        print(f"    {'case':<34} {'total':>12} {'reload':>12} {'verify':>12}")
        for site in (four_s, hotline):  # first deploys: also add the #include lines
            timed(site)
        for name, site in (("4S dealer", four_s), ("e-commerce hotline", hotline)):
            runs = []
            for n in range(reps):  # each deploy is a real change: the label differs
                changed = dataclasses.replace(site, label=f"{site.label} (run {n})")
                runs.append(timed(changed))
            total = statistics.median(t for t, _ in runs)
            reload = statistics.median(r.reload_seconds for _, r in runs)
            verify = statistics.median(r.verify_seconds for _, r in runs)
            print(f"    {name + ', changed':<34} {ms(total)} {ms(reload)} {ms(verify)}")
        timed(four_s)
        t, r = timed(four_s)  # the same content again: confirmed, not rewritten
        print(
            f"    {'4S dealer, unchanged (no reload)':<34} {ms(t)} {ms(r.reload_seconds)} "
            f"{ms(r.verify_seconds)}"
        )
        t, r = timed(generated_site())
        print(
            f"    {'10k menus, 1k queues, first deploy':<34} {ms(t)} {ms(r.reload_seconds)} "
            f"{ms(r.verify_seconds)}"
        )
    finally:
        pbx.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="repetitions per figure (median)")
    parser.add_argument("--deploy", action="store_true", help="also time deploy on the sandbox")
    args = parser.parse_args(argv)
    run(args.reps)
    if args.deploy:
        run_deploy(args.reps)


if __name__ == "__main__":
    main()
