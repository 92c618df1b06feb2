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
import wave
import zoneinfo
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from callflow.errors import Diagnostic, Severity
from callflow.model.nodes import (
    Branch,
    Dial,
    Goto,
    LanguageSelect,
    Lookup,
    Menu,
    Node,
    Play,
    Queue,
    TimeCondition,
    Voicemail,
)
from callflow.model.prompts import Prompt
from callflow.model.site import Site
from callflow.validate import validate

__all__ = [
    "EntryMetrics",
    "LintConfig",
    "LintReport",
    "QueueLoad",
    "lint",
    "prompt_timer",
    "sound_seconds",
]

#: sound formats Asterisk plays, and bytes per second of the raw ones
RAW_RATES = {
    "ulaw": 8000,
    "ulw": 8000,
    "alaw": 8000,
    "alw": 8000,
    "sln": 16000,
    "raw": 16000,
    "sln16": 32000,
}
EXTENSIONS = ("wav", "gsm", *RAW_RATES)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEK = 7 * 1440


def sound_seconds(path: Path) -> float:
    """The length of a sound file: wav by its header, gsm at 33 bytes per 20 ms, raw
    ulaw/alaw (8000 bytes/s) and sln (16000 bytes/s)."""
    ext = path.suffix.lstrip(".").lower()
    if ext == "wav":
        with wave.open(str(path), "rb") as w:
            return w.getnframes() / float(w.getframerate())
    size = path.stat().st_size
    if ext == "gsm":
        return size / 33 * 0.02
    return size / RAW_RATES[ext]


def prompt_timer(
    sounds: Path | None = None, *, default: float = 3.0, language: str = "en"
) -> _Timer:
    """A prompt's length: ``Prompt.seconds``, else its file under ``sounds`` (tried as
    ``sounds/<language>/<file>.<ext>`` then ``sounds/<file>.<ext>``), else ``default``.
    Pass it to the simulator as ``durations``."""
    return _Timer(sounds, default, language)


class _Timer:
    def __init__(self, sounds: Path | None, default: float, language: str) -> None:
        self.sounds, self.default, self.language = sounds, default, language
        self.cache: dict[str, float | None] = {}

    def find(self, prompt: Prompt) -> float | None:
        if self.sounds is None:
            return None
        if prompt.file not in self.cache:
            found = None
            for base in (self.sounds / self.language, self.sounds):
                for ext in EXTENSIONS:
                    path = base / f"{prompt.file}.{ext}"
                    if path.is_file():
                        found = sound_seconds(path)
                        break
                if found is not None:
                    break
            self.cache[prompt.file] = found
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


class _Analysis:
    def __init__(self, site: Site, config: LintConfig) -> None:
        self.site = site
        self.cfg = config
        self.time = prompt_timer(
            config.sounds, default=config.default_prompt, language=site.language
        )
        self.nodes = site.node_map
        self.out = {nid: self.edges(n) for nid, n in self.nodes.items()}
        self.good = self.reaching(lambda n: n.reaches_person or isinstance(n, Voicemail))

    # -- the graph, with costs ----------------------------------------------------------------
    def seconds(self, prompts: object) -> float:
        found: tuple[Prompt, ...] = prompts  # type: ignore[assignment]
        return float(sum(self.time(p) for p in found))

    def edges(self, node: Node) -> list[_Edge]:
        if isinstance(node, Menu):
            return self.menu_edges(node)
        if isinstance(node, Play):
            s = self.seconds(node.prompts)
            return [_Edge("next", node.next, s, s)]
        if isinstance(node, LanguageSelect):
            p = self.seconds(node.prompt)
            return [_Edge("next", node.next, p + node.timeout, p)]
        if isinstance(node, Dial):
            return [_Edge("no_answer", node.no_answer, node.ring, None)]
        if isinstance(node, Queue):
            wait = (node.manager_first or 0) + (node.max_wait or 0)
            return [_Edge("overflow", node.overflow, wait, None)]
        if isinstance(node, (Goto, Lookup, Branch, TimeCondition)):
            return [_Edge(r, t, 0.0, 0.0) for r, t in node.edges().items() if t is not None]
        return []

    def menu_edges(self, node: Menu) -> list[_Edge]:
        p = self.seconds(node.prompt)
        on_silence = p + node.timeout + self.seconds(node.timeout_prompt)
        on_invalid = p + self.seconds(node.invalid_prompt)
        retrying = [
            c
            for c, jump in ((on_silence, node.on_timeout), (on_invalid, node.invalid))
            if jump is None
        ]
        retry = max(retrying, default=0.0)
        before = (node.tries - 1) * retry if retrying else 0.0
        out = [
            _Edge(f"options[{d!r}]", t, before + p, p) for d, t in sorted(node.choices().items())
        ]
        if node.on_timeout is not None:
            out.append(_Edge("on_timeout", node.on_timeout, before + on_silence, None))
        if node.invalid is not None:
            out.append(_Edge("invalid", node.invalid, before + on_invalid, None))
        if retrying:
            out.append(_Edge("failure", node.failure, node.tries * retry, None))
        return out

    def successors(self, nid: str) -> list[str]:
        return [e.target for e in self.out.get(nid, []) if e.target in self.nodes]

    def reaching(self, goal: object) -> set[str]:
        """Node ids from which a node satisfying ``goal`` can be reached."""
        done = {nid for nid, n in self.nodes.items() if goal(n)}  # type: ignore[operator]
        changed = True
        while changed:
            changed = False
            for nid in self.nodes:
                if nid not in done and any(t in done for t in self.successors(nid)):
                    done.add(nid)
                    changed = True
        return done

    # -- per entry ----------------------------------------------------------------------------
    def entry_metrics(self, entry: str, start: str) -> EntryMetrics:
        best_depth: tuple[int, tuple[str, ...]] = (0, (start,))
        worst: tuple[float, tuple[str, ...]] | None = None
        budget = [200_000]

        def walk(nid: str, path: tuple[str, ...], depth: int, cost: float) -> None:
            nonlocal best_depth, worst
            budget[0] -= 1
            if budget[0] < 0:
                return
            node = self.nodes[nid]
            if isinstance(node, (Menu, LanguageSelect)):
                depth += 1
            if depth > best_depth[0]:
                best_depth = (depth, path)
            if node.reaches_person:
                answer = node.ring if isinstance(node, Dial) else self.edges(node)[0].worst
                if worst is None or cost + answer > worst[0]:
                    worst = (cost + answer, path)
            for e in self.out[nid]:
                if e.target in self.nodes and e.target not in path:
                    walk(e.target, (*path, e.target), depth, cost + e.worst)

        if start in self.nodes:
            walk(start, (start,), 0, 0.0)
        typical = self.typical(start, frozenset()) if start in self.nodes else None
        return EntryMetrics(
            entry=entry,
            start=start,
            depth=best_depth[0],
            depth_path=best_depth[1],
            worst_seconds=None if worst is None else round(worst[0], 3),
            worst_path=() if worst is None else worst[1],
            typical_seconds=None if typical is None else round(typical, 3),
        )

    def typical(self, nid: str, seen: frozenset[str]) -> float | None:
        node = self.nodes[nid]
        if node.reaches_person:
            return 0.0
        seen = seen | {nid}
        if isinstance(node, TimeCondition):
            follow = [node.open]
        elif isinstance(node, Branch):
            follow = [node.default]
        else:
            follow = []
        zero_out = isinstance(node, Menu) and node.operator is not None and "0" not in node.options
        candidates: list[float] = []
        operator: list[float] = []
        for e in self.out[nid]:
            if e.direct is None or e.target not in self.nodes or e.target in seen:
                continue
            if follow and e.target not in follow:
                continue
            rest = self.typical(e.target, seen)
            if rest is not None:
                aside = zero_out and e.role == "options['0']"
                (operator if aside else candidates).append(e.direct + rest)
        candidates = candidates or operator
        if not candidates:
            return None
        return float(sum(candidates)) / len(candidates)

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
                preds = [p for p in live if nid in self.successors(p)]
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
        if isinstance(node, Menu):
            if node.on_timeout is not None:
                t: list[str | None] = [node.on_timeout]
            else:
                t = [node.failure]
        elif isinstance(node, Dial):
            t = [node.no_answer]
        elif isinstance(node, Queue):
            t = [node.overflow]
        else:
            t = [e.target for e in self.out[nid]]
        return [x for x in t if x is not None and x in self.nodes]

    def silent_loops(self) -> Iterator[Diagnostic]:
        """Cycles a caller who presses nothing, and whom nobody answers, never leaves."""
        reported: set[frozenset[str]] = set()
        color: dict[str, int] = {}
        stack: list[str] = []

        def dfs(nid: str) -> Iterator[Diagnostic]:
            color[nid] = 1
            stack.append(nid)
            for t in self.silent_edges(nid):
                if color.get(t) == 1:
                    cycle = stack[stack.index(t) :]
                    if frozenset(cycle) not in reported:
                        reported.add(frozenset(cycle))
                        yield Diagnostic(
                            _npath(t),
                            "CF205",
                            "loop without exit: a caller who presses nothing and whom nobody "
                            f"answers goes round forever: {' > '.join([*cycle, t])}",
                            Severity.WARNING,
                        )
                elif t not in color:
                    yield from dfs(t)
            stack.pop()
            color[nid] = 2

        for start in sorted(set(self.site.entries.values())):
            if start in self.nodes and start not in color:
                yield from dfs(start)

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
                if holiday is not None and holiday in tc.holidays:
                    out[tc.id] = tc.holiday or tc.closed
                else:
                    is_open = any(a <= m < b for a, b in opening[tc.id])
                    out[tc.id] = tc.open if is_open else tc.closed
            return out

        holidays = sorted({d for tc in tcs for d in tc.holidays})
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
            for name in ("prompt", "prompts", "invalid_prompt", "timeout_prompt"):
                for p in getattr(node, name, None) or ():
                    if p.seconds is None and self.time.find(p) is None:
                        yield Diagnostic(
                            f"{_npath(nid)}.{name}",
                            "CF213",
                            f"no sound file {p.file!r} under {self.cfg.sounds}; counted as "
                            f"{self.cfg.default_prompt:g}s",
                            Severity.WARNING,
                        )


def _secs(x: float) -> str:
    return "unbounded" if x == float("inf") else f"{x:.0f}s"


def lint(site: Site, config: LintConfig | None = None) -> LintReport:
    """Validate ``site`` and analyse every entry point (see the module's docstring)."""
    config = config or LintConfig()
    base = validate(site)
    analysis = _Analysis(site, config)
    metrics, found = analysis.run()
    found += list(analysis.sounds())
    return LintReport(tuple(metrics), tuple(base) + tuple(sorted(set(found))))
