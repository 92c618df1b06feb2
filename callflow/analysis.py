"""Lint a flow: how deep its menus go, how long the worst path to a person takes, and
the shapes that keep callers from one (DOMAIN.md §3: the best IVR is almost no IVR).

    report = lint(site, LintConfig(max_depth=3, max_seconds=300))
    for e in report.entries: print(e.entry, e.depth, e.worst_seconds, e.worst_path)
    report.diagnostics      # validate()'s, then the CF2xx lint codes

Times are counted on the same virtual clock as the simulator: a prompt lasts its
``Prompt.seconds``, else the length of its sound file (``sounds``), else ``default``.

- **worst**: over every route that ends with a person answering, the longest: each menu
  tried and failed as often as ``tries`` allows (prompt + timeout + timeout prompt, or
  prompt + invalid prompt, whichever is longer) before the option is chosen, dials that
  ring out, queues that give up after ``max_wait`` and overflow on; the person answers at
  the last moment (a dial's ``ring``, a queue's ``manager_first`` + ``max_wait``).
- **typical**: during opening hours, an unknown caller who picks a menu option right after
  the prompt (the mean over the options that lead to a person, the operator's 0 aside
  unless it is the only one); the first person rung answers at once.
"""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from callflow.audio import SoundFileError, site_prompts, sound_file, sound_seconds
from callflow.errors import Diagnostic, Severity
from callflow.model.campaigns import MANAGER_PREFIX
from callflow.model.nodes import (
    Ask,
    Branch,
    Dial,
    LanguageSelect,
    Menu,
    Node,
    Play,
    Queue,
    Retrying,
    TimeCondition,
    Voicemail,
)
from callflow.model.prompts import Prompt, prompt_fields
from callflow.model.site import Site
from callflow.model.visitor import NodeVisitor
from callflow.validate import validate

__all__ = [
    "EntryMetrics",
    "LintConfig",
    "LintReport",
    "QueueLoad",
    "SoundFileError",
    "lint",
    "prompt_timer",
    "sound_seconds",
]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEK = 7 * 1440


def prompt_timer(
    sounds: Path | None = None, *, default: float = 3.0, language: str = "en"
) -> _Timer:
    """A prompt's length: ``Prompt.seconds``, else its file under ``sounds`` (found as
    Asterisk finds it: :func:`callflow.audio.sound_file`), else ``default``.
    Pass it to the simulator as ``durations``. A file found but unreadable raises
    :class:`SoundFileError` naming it."""
    return _Timer(sounds, default, language)


class _Timer:
    def __init__(self, sounds: Path | None, default: float, language: str) -> None:
        self.sounds, self.default, self.language = sounds, default, language
        self.cache: dict[str, float | None] = {}

    def find(self, prompt: Prompt) -> float | None:
        if self.sounds is None:
            return None
        if prompt.file not in self.cache:
            # the file Asterisk would play (callflow.audio: its language order), measured
            # as `callflow prompts list` measures it
            path = sound_file(self.sounds, prompt.file, self.language)
            self.cache[prompt.file] = None if path is None else sound_seconds(path)
        return self.cache[prompt.file]

    def __call__(self, prompt: Prompt) -> float:
        if prompt.seconds is not None:
            return prompt.seconds
        found = self.find(prompt)
        return self.default if found is None else found


@dataclass(frozen=True)
class QueueLoad:
    """Arrival data for one queue: calls per hour by tier, handling time, agents (None:
    as many as the queue has people)."""

    arrivals: Mapping[str, float]
    aht: float
    agents: int | None = None


@dataclass(frozen=True)
class LintConfig:
    """Thresholds and inputs of :func:`lint`."""

    max_depth: int = 3
    max_seconds: float = 300.0
    max_options: int = 4
    default_prompt: float = 3.0
    sounds: Path | None = None
    small_group: int = 2
    loads: Mapping[str, QueueLoad] = field(default_factory=dict)


@dataclass(frozen=True)
class EntryMetrics:
    """What a caller of one entry point goes through (paths are node ids)."""

    entry: str
    start: str
    depth: int
    depth_path: tuple[str, ...]
    worst_seconds: float | None
    worst_path: tuple[str, ...]
    typical_seconds: float | None

    def as_dict(self) -> dict[str, object]:
        return {
            "entry": self.entry,
            "start": self.start,
            "depth": self.depth,
            "depth_path": list(self.depth_path),
            "worst_seconds": self.worst_seconds,
            "worst_path": list(self.worst_path),
            "typical_seconds": self.typical_seconds,
        }


@dataclass(frozen=True)
class LintReport:
    entries: tuple[EntryMetrics, ...]
    diagnostics: tuple[Diagnostic, ...]

    @property
    def errors(self) -> int:
        return sum(d.severity is Severity.ERROR for d in self.diagnostics)

    def as_dict(self) -> dict[str, object]:
        return {
            "entries": [e.as_dict() for e in self.entries],
            "diagnostics": [d.as_dict() for d in self.diagnostics],
        }

    def describe(self) -> str:
        lines = []
        for e in self.entries:
            worst = "no person" if e.worst_seconds is None else f"{e.worst_seconds:g}s"
            typical = "-" if e.typical_seconds is None else f"{e.typical_seconds:g}s"
            lines.append(
                f"entry {e.entry} -> {e.start}: menu depth {e.depth}, time to a person: "
                f"typical {typical}, worst {worst}"
            )
            if e.worst_path:
                lines.append(f"  worst path: {' > '.join(e.worst_path)}")
            if e.depth > 1:
                lines.append(f"  deepest path: {' > '.join(e.depth_path)}")
        lines += [str(d) for d in self.diagnostics]
        lines.append(f"{self.errors} error(s), {len(self.diagnostics) - self.errors} warning(s)")
        return "\n".join(lines)


@dataclass(frozen=True)
class _Edge:
    role: str
    target: str | None  # None: the call is hung up
    worst: float
    direct: float | None  # None: not taken by the typical caller


def _npath(node_id: str) -> str:
    return f"site.nodes[{node_id!r}]"


def _fmt_minute(m: int) -> str:
    m %= WEEK
    return f"{DAYS[m // 1440]} {m % 1440 // 60:02d}:{m % 60:02d}"


@dataclass
class _Best:
    """The best route found from one node: its value, the ids it walks inside the node's
    component, and the node (in a later component) where it goes on, if any."""

    value: float
    inside: tuple[str, ...]
    then: str | None


def components(starts: list[str], successors: Callable[[str], list[str]]) -> list[list[str]]:
    """Strongly connected components of the nodes reachable from ``starts`` (Tarjan's
    algorithm, without recursion), each listed after every component it leads to."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for root in starts:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work: list[tuple[str, Iterator[str]]] = [(root, iter(successors(root)))]
        while work:
            v, todo = work[-1]
            for w in todo:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(successors(w))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    u = work[-1][0]
                    low[u] = min(low[u], low[v])
                if low[v] == index[v]:
                    comp: list[str] = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    found.append(comp)
    return found


class _Analysis(NodeVisitor[list[_Edge]]):
    """The flow as a graph with costs (one ``visit_<node>`` per node type: a node type
    lint does not know fails loudly instead of being skipped), and every walk over it.

    Every walk is iterative. The per-entry metrics are longest routes, which only loops
    make hard: the flow is split into strongly connected components (a menu and the
    menus that lead back to it), routes are enumerated inside a component only, and
    components are combined in one pass, so a flow without loops (a chain of 10,000
    Gotos) is analysed in linear time. Inside a component at most ``ROUTE_BUDGET`` steps
    are taken; a flow so tangled that they run out gets a CF214 warning."""

    backend = "lint"
    ROUTE_BUDGET = 200_000
    TOTAL_BUDGET = 2_000_000

    def __init__(self, site: Site, config: LintConfig) -> None:
        self.site = site
        self.cfg = config
        self.time = prompt_timer(
            config.sounds, default=config.default_prompt, language=site.language
        )
        self.nodes = site.node_map
        self.out = {nid: self.visit(n) for nid, n in self.nodes.items()}
        self.succ = {
            nid: [e.target for e in out if e.target is not None and e.target in self.nodes]
            for nid, out in self.out.items()
        }
        self.preds: dict[str, list[str]] = {nid: [] for nid in self.nodes}
        for nid, targets in self.succ.items():
            for t in dict.fromkeys(targets):
                self.preds[t].append(nid)
        self.good = self.reaching(lambda n: n.reaches_person or isinstance(n, Voicemail))
        self.budget_ran_out: set[str] = set()
        self.steps_left = self.TOTAL_BUDGET
        self.worst: dict[str, _Best | None] = {}
        self.depth: dict[str, _Best] = {}
        self.typ: dict[str, float | None] = {}
        self.routes()

    # -- the graph, with costs ----------------------------------------------------------------
    def seconds(self, prompts: tuple[Prompt, ...]) -> float:
        return float(sum(self.time(p) for p in prompts))

    def visit_play(self, node: Play) -> list[_Edge]:
        s = self.seconds(node.prompts)
        return [_Edge("next", node.next, s, s)]

    def visit_language_select(self, node: LanguageSelect) -> list[_Edge]:
        p = self.seconds(node.prompt)
        return [_Edge("next", node.next, p + node.timeout, p)]

    def visit_dial(self, node: Dial) -> list[_Edge]:
        return [_Edge("no_answer", node.no_answer, node.ring, None)]

    def visit_queue(self, node: Queue) -> list[_Edge]:
        wait = (node.manager_first or 0) + (node.max_wait or 0)
        return [_Edge("overflow", node.overflow, wait, None)]

    def _instant(self, node: Node) -> list[_Edge]:
        return [_Edge(r, t, 0.0, 0.0) for r, t in node.edges().items() if t is not None]

    visit_goto = visit_lookup = visit_branch = visit_time_condition = _instant

    def _end(self, node: Node) -> list[_Edge]:
        return []

    visit_voicemail = visit_hangup = _end

    def visit_menu(self, node: Menu) -> list[_Edge]:
        choices = [(f"options[{d!r}]", t) for d, t in sorted(node.choices().items())]
        return self.retry_edges(node, choices)

    def visit_ask(self, node: Ask) -> list[_Edge]:
        keys = [(f"keys[{d!r}]", t) for d, t in sorted(node.keys.items())]
        return self.retry_edges(node, [("next", node.next), *keys])

    def retry_edges(self, node: Retrying, choices: list[tuple[str, str]]) -> list[_Edge]:
        """A menu's or a question's edges: ``choices`` once a key is accepted, after
        up to ``tries`` failed tries; then the timeout, invalid and failure jumps (the
        model's :meth:`~callflow.model.nodes.Retrying.retries`)."""
        p = self.seconds(node.prompt)
        failed = [
            (r, p + (node.timeout if r.waited else 0) + self.seconds(r.prompt))
            for r in node.retries()
        ]
        retry = max((cost for r, cost in failed if r.jump is None), default=0.0)
        before = (node.tries - 1) * retry if node.can_fail else 0.0
        out = [_Edge(role, t, before + p, p) for role, t in choices]
        out += [
            _Edge(r.role, r.jump, before + cost, None) for r, cost in failed if r.jump is not None
        ]
        if node.can_fail:
            out.append(_Edge("failure", node.failure, node.tries * retry, None))
        return out

    def successors(self, nid: str) -> list[str]:
        return self.succ.get(nid, [])

    def reaching(self, goal: Callable[[Node], bool]) -> set[str]:
        """Node ids from which a node satisfying ``goal`` can be reached (one search
        backwards from the goals)."""
        done = {nid for nid, n in self.nodes.items() if goal(n)}
        todo = list(done)
        while todo:
            for p in self.preds[todo.pop()]:
                if p not in done:
                    done.add(p)
                    todo.append(p)
        return done

    # -- routes: worst time, menu depth and typical time from every node -----------------------
    def answer(self, node: Node) -> float:
        """When the person at ``node`` answers, at the latest."""
        if isinstance(node, Dial):
            return float(node.ring)
        return self.out[node.id][0].worst  # a queue: manager_first + max_wait

    def routes(self) -> None:
        entry_set = {s for s in self.site.entries.values() if s in self.nodes}
        starts = sorted(entry_set)
        for comp in components(starts, self.successors):
            members = set(comp)
            demanded = [
                v for v in comp if v in entry_set or any(p not in members for p in self.preds[v])
            ]
            exit_worst: dict[str, tuple[float, str | None] | None] = {}
            exit_depth: dict[str, tuple[float, str | None]] = {}
            for u in comp:
                node = self.nodes[u]
                best_w: tuple[float, str | None] | None = None
                if node.reaches_person:
                    best_w = (self.answer(node), None)
                best_d: tuple[float, str | None] = (0.0, None)
                for e in self.out[u]:
                    t = e.target
                    if t is None or t not in self.nodes or t in members:
                        continue
                    after = self.worst.get(t)
                    if after is not None and (best_w is None or e.worst + after.value > best_w[0]):
                        best_w = (e.worst + after.value, t)
                    if self.depth[t].value > best_d[0]:
                        best_d = (self.depth[t].value, t)
                exit_worst[u], exit_depth[u] = best_w, best_d
            for v in demanded:
                self.longest(v, members, exit_worst, exit_depth)
            for v in demanded:
                self.typ[v] = self.typical(v, members)

    def longest(
        self,
        v: str,
        members: set[str],
        exit_worst: Mapping[str, tuple[float, str | None] | None],
        exit_depth: Mapping[str, tuple[float, str | None]],
    ) -> None:
        """Worst time to a person and deepest menu route from ``v``: every simple route
        inside ``v``'s component, each continued by the best exit from where it stops."""

        def level(nid: str) -> int:
            return int(isinstance(self.nodes[nid], (Menu, LanguageSelect)))

        worst: _Best | None = None
        depth = _Best(-1.0, (), None)
        path, on_path = [v], {v}
        cost, levels = [0.0], [level(v)]
        inner = {u: [(e.target, e.worst) for e in self.out[u] if e.target in members] for u in [v]}
        todo = [iter(inner[v])]
        budget = min(self.ROUTE_BUDGET, self.steps_left)
        while True:
            here = path[-1]
            w_exit = exit_worst[here]
            if w_exit is not None and (worst is None or cost[-1] + w_exit[0] > worst.value):
                worst = _Best(cost[-1] + w_exit[0], tuple(path), w_exit[1])
            d_exit = exit_depth[here]
            if levels[-1] + d_exit[0] > depth.value:
                depth = _Best(levels[-1] + d_exit[0], tuple(path), d_exit[1])
            while todo:
                step = next(((t, c) for t, c in todo[-1] if t not in on_path), None)
                if step is not None and budget > 0:
                    budget -= 1
                    t, c = step
                    if t not in inner:
                        inner[t] = [(e.target, e.worst) for e in self.out[t] if e.target in members]
                    path.append(t)
                    on_path.add(t)
                    cost.append(cost[-1] + c)
                    levels.append(levels[-1] + level(t))
                    todo.append(iter(inner[t]))
                    break
                if step is not None:
                    self.budget_ran_out.add(v)
                todo.pop()
                on_path.discard(path.pop())
                cost.pop()
                levels.pop()
            else:
                break
        self.steps_left -= min(self.ROUTE_BUDGET, self.steps_left) - budget
        self.worst[v] = worst
        self.depth[v] = depth

    def typical(self, start: str, members: set[str]) -> float | None:
        """An unknown caller in opening hours who picks an option right after each prompt:
        the mean over the options (the operator's 0 aside, unless it is the only one)."""
        frames = [_Typical(self, start)]
        on_path = {start}
        result: float | None = None
        budget = min(self.ROUTE_BUDGET, self.steps_left)
        while frames:
            f = frames[-1]
            if f.waiting is not None:
                f.add(f.waiting, result)
                f.waiting = None
            for e in f.todo:
                t = e.target
                assert t is not None
                if t not in members:
                    f.add(e, self.typ.get(t))
                elif t not in on_path:
                    if budget <= 0:
                        self.budget_ran_out.add(start)
                        continue
                    budget -= 1
                    f.waiting = e
                    frames.append(_Typical(self, t))
                    on_path.add(t)
                    break
            else:
                frames.pop()
                on_path.discard(f.nid)
                result = f.result()
        self.steps_left -= min(self.ROUTE_BUDGET, self.steps_left) - budget
        return result

    def route(self, table: Mapping[str, _Best | None], start: str) -> tuple[str, ...]:
        out: list[str] = []
        cur: str | None = start
        while cur is not None:
            best = table[cur]
            assert best is not None
            out += best.inside
            cur = best.then
        return tuple(out)

    # -- per entry ----------------------------------------------------------------------------
    def entry_metrics(self, entry: str, start: str) -> EntryMetrics:
        if start not in self.nodes:
            return EntryMetrics(entry, start, 0, (start,), None, (), None)
        worst, depth, typical = self.worst[start], self.depth[start], self.typ[start]
        return EntryMetrics(
            entry=entry,
            start=start,
            depth=int(depth.value),
            depth_path=self.route(self.depth, start),
            worst_seconds=None if worst is None else round(worst.value, 3),
            worst_path=() if worst is None else self.route(self.worst, start),
            typical_seconds=None if typical is None else round(typical, 3),
        )

    # -- checks -----------------------------------------------------------------------------------
    def run(self) -> tuple[list[EntryMetrics], list[Diagnostic]]:
        cfg = self.cfg
        metrics = [self.entry_metrics(n, s) for n, s in sorted(self.site.entries.items())]
        found: list[Diagnostic] = []
        for m in metrics:
            path = f"site.entries[{m.entry!r}]"
            if m.depth > cfg.max_depth:
                found.append(
                    Diagnostic(
                        path,
                        "CF201",
                        f"{m.depth} menu levels (limit {cfg.max_depth}): "
                        f"{' > '.join(m.depth_path)}",
                    )
                )
            if m.worst_seconds is None:
                found.append(Diagnostic(path, "CF202", "no route from this entry reaches a person"))
            elif m.worst_seconds > cfg.max_seconds:
                found.append(
                    Diagnostic(
                        path,
                        "CF202",
                        f"worst time to a person is {m.worst_seconds:g}s "
                        f"(limit {cfg.max_seconds:g}s): {' > '.join(m.worst_path)}",
                    )
                )
        if self.budget_ran_out:
            found.append(
                Diagnostic(
                    "site.nodes",
                    "CF214",
                    "too many routes through the loops around "
                    f"{', '.join(repr(n) for n in sorted(self.budget_ran_out))} to try them "
                    "all: the worst and typical times given are from the routes tried",
                    Severity.WARNING,
                )
            )
        found += self.dead_ends()
        found += self.silent_loops()
        found += self.menus()
        found += self.gaps()
        found += self.queues()
        return metrics, found

    def reachable(self) -> set[str]:
        seen: set[str] = set()
        todo = [s for s in self.site.entries.values() if s in self.nodes]
        while todo:
            cur = todo.pop()
            if cur not in seen:
                seen.add(cur)
                todo.extend(self.successors(cur))
        return seen

    def dead_ends(self) -> Iterator[Diagnostic]:
        live = self.reachable()
        for nid in sorted(live):
            node = self.nodes[nid]
            if nid not in self.good and node.visit_name != "hangup":
                preds = [p for p in self.preds[nid] if p in live]
                if not preds or any(p in self.good for p in preds):
                    yield Diagnostic(
                        _npath(nid),
                        "CF203",
                        "dead end: from here a caller reaches neither a person nor a voicemail",
                        Severity.WARNING,
                    )
            for e in self.out[nid]:
                if e.target is None and e.role in ("failure", "no_answer"):
                    why = "nobody answers" if e.role == "no_answer" else "the menu's tries run out"
                    yield Diagnostic(
                        f"{_npath(nid)}.{e.role}",
                        "CF204",
                        f"when {why} the caller is hung up on; set {e.role} to a person or a "
                        "voicemail",
                        Severity.WARNING,
                    )

    def silent_edges(self, nid: str) -> list[str]:
        node = self.nodes[nid]
        if isinstance(node, Retrying):
            t: list[str | None] = node.silent_targets()
        elif isinstance(node, Dial):
            t = [node.no_answer]
        elif isinstance(node, Queue):
            t = [node.overflow]
        else:
            t = [e.target for e in self.out[nid]]
        return [x for x in t if x is not None and x in self.nodes]

    def silent_loops(self) -> Iterator[Diagnostic]:
        """Cycles a caller who presses nothing, and whom nobody answers, never leaves
        (a depth-first search with an explicit stack)."""
        reported: set[frozenset[str]] = set()
        done: set[str] = set()
        for start in sorted(set(self.site.entries.values())):
            if start not in self.nodes or start in done:
                continue
            stack = [start]
            position = {start: 0}
            todo = [iter(self.silent_edges(start))]
            while todo:
                for t in todo[-1]:
                    if t in position:
                        cycle = stack[position[t] :]
                        if frozenset(cycle) not in reported:
                            reported.add(frozenset(cycle))
                            yield Diagnostic(
                                _npath(t),
                                "CF205",
                                "loop without exit: a caller who presses nothing and whom nobody "
                                f"answers goes round forever: {' > '.join([*cycle, t])}",
                                Severity.WARNING,
                            )
                    elif t not in done:
                        position[t] = len(stack)
                        stack.append(t)
                        todo.append(iter(self.silent_edges(t)))
                        break
                else:
                    todo.pop()
                    finished = stack.pop()
                    del position[finished]
                    done.add(finished)

    def menus(self) -> Iterator[Diagnostic]:
        people = self.reaching(lambda n: n.reaches_person)
        for nid, node in sorted(self.nodes.items()):
            if not isinstance(node, Menu):
                continue
            zero = node.choices().get("0")
            if zero is None or zero not in people:
                yield Diagnostic(
                    f"{_npath(nid)}.operator",
                    "CF206",
                    "no zero-out: 0 should reach a person (set operator)",
                    Severity.WARNING,
                )
            n = len([d for d in node.choices() if d != "0"])
            if n > self.cfg.max_options:
                yield Diagnostic(
                    f"{_npath(nid)}.options",
                    "CF207",
                    f"{n} options (limit {self.cfg.max_options}): callers forget them; split "
                    "the menu or route by customer data",
                    Severity.WARNING,
                )

    # -- after-hours gaps ----------------------------------------------------------------------
    def gaps(self) -> Iterator[Diagnostic]:
        tcs = [n for n in self.nodes.values() if isinstance(n, TimeCondition)]
        if not tcs:
            return
        site_tz = zoneinfo.ZoneInfo(self.site.timezone)
        ref = dt.datetime(2027, 1, 4, 12, tzinfo=dt.UTC)  # a Monday; offsets without DST

        def shift(tc: TimeCondition) -> int:
            tz = zoneinfo.ZoneInfo(tc.timezone or self.site.timezone)
            delta = (ref.astimezone(site_tz).utcoffset() or dt.timedelta()) - (
                ref.astimezone(tz).utcoffset() or dt.timedelta()
            )
            return int(delta.total_seconds() // 60)

        def minute(key: int) -> int:
            day, hhmm = divmod(key, 10000)
            return (day - 1) * 1440 + hhmm // 100 * 60 + hhmm % 100

        opening: dict[str, list[tuple[int, int]]] = {}
        cuts = {0, WEEK}
        for tc in tcs:
            s = shift(tc)
            spans = []
            for h in tc.hours:
                try:
                    ranges = h.ranges()
                except ValueError:
                    continue
                for lo, hi in ranges:
                    a, b = (minute(lo) + s) % WEEK, (minute(hi) + s) % WEEK or WEEK
                    spans += [(a, b)] if a < b else [(a, WEEK), (0, b)]
            opening[tc.id] = spans
            cuts |= {x for span in spans for x in span}
        bounds = sorted(cuts)

        def state(m: int, holiday: dt.date | None) -> dict[str, str]:
            out = {}
            for tc in tcs:
                on_holiday = holiday is not None and holiday in tc.holidays
                is_open = any(a <= m < b for a, b in opening[tc.id])
                out[tc.id] = tc.route(holiday=on_holiday, is_open=is_open)[1]
            return out

        # dates only: anything else is validation's to report (lint must not crash on it)
        holidays = sorted({d for tc in tcs for d in tc.holidays if isinstance(d, dt.date)})
        for entry, start in sorted(self.site.entries.items()):
            if start not in self.nodes:
                continue
            gaps: list[tuple[int, int]] = []
            for a, b in itertools.pairwise(bounds):
                if not self.reaches_good(start, state(a, None)):
                    if gaps and gaps[-1][1] == a:
                        gaps[-1] = (gaps[-1][0], b)
                    else:
                        gaps.append((a, b))
            if len(gaps) > 1 and gaps[0][0] == 0 and gaps[-1][1] == WEEK:
                gaps[0] = (gaps[-1][0], gaps[0][1] + WEEK)
                gaps.pop()
            for a, b in gaps:
                yield Diagnostic(
                    f"site.entries[{entry!r}]",
                    "CF208",
                    f"after-hours gap {_fmt_minute(a)}-{_fmt_minute(b)}: callers reach neither a "
                    "person nor a voicemail",
                    Severity.WARNING,
                )
            for day in holidays:
                wd = day.weekday() * 1440
                if any(
                    not self.reaches_good(start, state(m, day))
                    for m in [wd, *(x for x in bounds if wd <= x < wd + 1440)]
                ):
                    yield Diagnostic(
                        f"site.entries[{entry!r}]",
                        "CF208",
                        f"after-hours gap on the holiday {day.isoformat()}: callers reach "
                        "neither a person nor a voicemail",
                        Severity.WARNING,
                    )

    def reaches_good(self, start: str, chosen: Mapping[str, str]) -> bool:
        seen: set[str] = set()
        todo = [start]
        while todo:
            cur = todo.pop()
            if cur in seen or cur not in self.nodes:
                continue
            seen.add(cur)
            node = self.nodes[cur]
            if node.reaches_person or isinstance(node, Voicemail):
                return True
            todo.extend([chosen[cur]] if cur in chosen else self.successors(cur))
        return False

    # -- queues -------------------------------------------------------------------------------
    def queues(self) -> Iterator[Diagnostic]:
        from callflow.forecast import forecast  # pure arithmetic, no flow knowledge

        for q in sorted(self.site.queues(), key=lambda q: q.id):
            path = _npath(q.id)
            if q.overflow is not None and q.overflow in self.nodes and q.overflow not in self.good:
                yield Diagnostic(
                    f"{path}.overflow",
                    "CF209",
                    f"overflow {q.overflow!r} reaches neither a person nor a voicemail: callers "
                    "who wait too long are lost",
                    Severity.WARNING,
                )
            rule = self.site.rule_for(q)
            people = {p.id for m in q.member_list for p in self.site.people(m.who)}
            load = self.cfg.loads.get(q.id)
            if load is not None:
                agents = load.agents or len(people)
                if agents == 0:
                    continue
                fc = forecast(load.arrivals, rule, aht=load.aht, agents=agents, max_wait=q.max_wait)
                low = fc.lowest
                if fc.starves():
                    yield Diagnostic(
                        path,
                        "CF211",
                        f"priority starves tier {low.tier!r}: mean wait "
                        f"{_secs(low.mean_wait)} against {_secs(low.fifo_wait)} first come, first "
                        f"served (max_wait {q.max_wait}s, {agents} agents)",
                    )
                elif fc.load >= agents or (q.max_wait is not None and low.fifo_wait > q.max_wait):
                    yield Diagnostic(
                        path,
                        "CF212",
                        f"understaffed: {fc.load:.2f} Erlangs offered to {agents} agents; "
                        f"tier {low.tier!r} waits {_secs(low.mean_wait)} on average",
                    )
                continue
            strict = sorted(t for t, p in rule.tiers.items() if p > rule.default)
            groups = {m.who for m in q.member_list}
            if strict and len(groups) == 1 and len(people) <= self.cfg.small_group:
                yield Diagnostic(
                    path,
                    "CF210",
                    f"VIP starvation risk: tier(s) {', '.join(strict)} go ahead of everyone and "
                    f"only {len(people)} agent(s) of group {next(iter(groups))!r} answer; give "
                    "arrival data to forecast it",
                    Severity.WARNING,
                )

    def sounds(self) -> Iterator[Diagnostic]:
        if self.cfg.sounds is None:
            return
        for nid, node in sorted(self.nodes.items()):
            for name, prompts in prompt_fields(node):
                for p in prompts:
                    if p.seconds is None and self.time.find(p) is None:
                        yield Diagnostic(
                            f"{_npath(nid)}.{name}",
                            "CF213",
                            f"no sound file {p.file!r} under {self.cfg.sounds}; counted as "
                            f"{self.cfg.default_prompt:g}s",
                            Severity.WARNING,
                        )
        for path, p in campaign_prompts(self.site):
            if self.time.find(p) is None:
                yield Diagnostic(
                    path,
                    "CF213",
                    f"no sound file {p.file!r} under {self.cfg.sounds}",
                    Severity.WARNING,
                )


def campaign_prompts(site: Site) -> Iterator[tuple[str, Prompt]]:
    """Every sound file a site's campaigns play, with its path in the model. A
    ``manager:<file>`` message stands for ``<file>``, the fallback every manager's own
    recording needs."""
    for c in site.campaigns:
        path = f"site.campaigns[{c.id!r}]"
        names = ["message"]
        if c.kind == "survey" and c.questions:  # what the answered flow plays
            names += ["goodbye", "opt_out_message"] if c.opt_out_digit else ["goodbye"]
        for name in names:
            for p in getattr(c, name) or ():
                if isinstance(p, Prompt):
                    yield f"{path}.{name}", Prompt(p.file.removeprefix(MANAGER_PREFIX))
        for q in c.questions:
            prompt = q.prompt if isinstance(q.prompt, Prompt) else Prompt(q.prompt)
            yield f"{path}.questions[{q.id!r}].prompt", prompt


def missing_sounds(site: Site, sounds: Path) -> list[Diagnostic]:
    """An error for each use of a prompt of ``site`` (nodes and campaigns,
    :func:`callflow.audio.site_prompts`) that Asterisk finds no sound file for under
    ``sounds`` in the site's language (:func:`callflow.audio.sound_file`): what
    ``validate --sounds`` reports before a caller hears silence."""
    return [
        Diagnostic(path, "CF154", f"no sound file {use.file!r} under {sounds}")
        for use in site_prompts(site)
        if sound_file(sounds, use.file, site.language) is None
        for path in use.used
    ]


class _Typical:
    """One node on the typical caller's way (see :meth:`_Analysis.typical`)."""

    def __init__(self, analysis: _Analysis, nid: str) -> None:
        node = analysis.nodes[nid]
        self.nid = nid
        self.person = node.reaches_person
        self.waiting: _Edge | None = None
        self.candidates: list[float] = []
        self.operator: list[float] = []
        self.zero_out = (
            isinstance(node, Menu) and node.operator is not None and "0" not in node.options
        )
        if isinstance(node, TimeCondition):
            follow = [node.open]
        elif isinstance(node, Branch):
            follow = [node.default]
        else:
            follow = []
        self.todo = iter(
            ()
            if self.person
            else [
                e
                for e in analysis.out[nid]
                if e.direct is not None
                and e.target in analysis.nodes
                and (not follow or e.target in follow)
            ]
        )

    def add(self, edge: _Edge, rest: float | None) -> None:
        if rest is None or edge.direct is None:
            return
        aside = self.zero_out and edge.role == "options['0']"
        (self.operator if aside else self.candidates).append(edge.direct + rest)

    def result(self) -> float | None:
        if self.person:
            return 0.0
        found = self.candidates or self.operator
        return float(sum(found)) / len(found) if found else None


def _secs(x: float) -> str:
    return "unbounded" if x == float("inf") else f"{x:.0f}s"


def lint(site: Site, config: LintConfig | None = None) -> LintReport:
    """Validate ``site`` and analyse every entry point (see the module's docstring).

    A site with validation errors is not analysed: the report holds those errors and no
    entries. A node type lint has no method for raises
    :class:`~callflow.errors.UnsupportedNode`."""
    config = config or LintConfig()
    _Analysis.require(site.nodes)  # lint's own refusal first, then validation's
    base = validate(site)
    if any(d.severity is Severity.ERROR for d in base):
        return LintReport((), tuple(base))  # an invalid flow is no graph to analyse
    analysis = _Analysis(site, config)
    metrics, found = analysis.run()
    found += list(analysis.sounds())
    return LintReport(tuple(metrics), tuple(base) + tuple(sorted(set(found))))
