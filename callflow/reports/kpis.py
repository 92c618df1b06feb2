"""The KPIs, each defined once: SQL that the database aggregates (GROUP BY on SQLite and
PostgreSQL alike), rolled up into local intervals here. docs/reports.md gives every
definition in words; the function that computes a KPI is named beside it there::

    opts = ReportOptions(site="star_motors", period=Period.parse("2026-11-01",
                         "2026-11-08", ZoneInfo("Asia/Shanghai"), "day"))
    with sessions() as session:
        rows = queue_kpis(session, opts)        # one QueueRow per (interval, queue)

Reads ``call_records`` (one row per call, written by the records writer or imported from
Asterisk's queue_log by :mod:`callflow.reports.queue_log`), ``customers``,
``campaign_attempts``, ``survey_responses`` and ``dnc_numbers``. Calls belong to the
interval in which they started.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import FunctionElement

from callflow.reports.errors import ReportError
from callflow.reports.period import Interval, IntervalKey, Period
from callflow.reports.regions import region_of_number
from callflow.store.call_records import CallRecord
from callflow.store.campaigns import CampaignAttempt, DncNumber
from callflow.store.customers import Customer
from callflow.store.surveys import SurveyResponse

#: a call of at least this many seconds of talk is an *effective call* (DOMAIN.md §6)
EFFECTIVE_SECONDS = 180
#: queues.conf ``servicelevel``: the sample configuration's 60 s
SERVICE_LEVEL_SECONDS = 60
#: US TSR 16 CFR 310.4 and UK Ofcom: at most 3 % of live-answered calls abandoned
ABANDON_CAP = 0.03
#: the attempt disposition of a callee who answered and got no agent within 2 s
ABANDONED = "abandoned"
#: dispositions of an attempt that reached a person
CONTACTED = ("human", "optout", ABANDONED)
UNKNOWN = "unknown"
VIP = "vip"


@dataclass(frozen=True)
class ReportOptions:
    """What a report covers: a site, a period, thresholds and filters (empty = all)."""

    site: str
    period: Period
    service_level: int = SERVICE_LEVEL_SECONDS
    effective: int = EFFECTIVE_SECONDS
    abandon_cap: float = ABANDON_CAP
    queues: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()
    campaigns: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    default_language: str = UNKNOWN

    def __post_init__(self) -> None:
        if self.service_level < 0:
            raise ReportError(f"--service-level {self.service_level}: give seconds >= 0")
        if self.effective < 0:
            raise ReportError(f"--effective {self.effective}: give seconds >= 0")
        if not 0 <= self.abandon_cap <= 1:
            raise ReportError(f"--abandon-cap {self.abandon_cap}: give a fraction 0..1")


# -- SQL helpers -------------------------------------------------------------------------------
class bucket(FunctionElement[Any]):
    """The UTC bucket (``size`` = 900 or 3600 seconds) a timestamp falls in; read it
    back with :func:`bucket_start`.

    PostgreSQL: ``floor(epoch / size)``. SQLite: a prefix of the stored text (SQLAlchemy
    keeps SQLite DATETIMEs as UTC text ``YYYY-MM-DD HH:MM:SS.ffffff``), ``YYYY-MM-DD HH``
    or ``YYYY-MM-DD HH:q`` (q the quarter hour): cutting text is several times cheaper
    per row than ``strftime('%s')``, and a million rows are read per section."""

    inherit_cache = True
    name = "cf_bucket"

    def __init__(self, column: Any, size: int) -> None:
        if size not in (900, 3600):
            raise ValueError(f"bucket size {size}: 900 or 3600")
        self.size = size
        super().__init__(column)


@compiles(bucket, "sqlite")
def _bucket_sqlite(element: bucket, compiler: Any, **kw: Any) -> str:
    inner = compiler.process(element.clauses, **kw)
    if element.size == 3600:
        return f"substr({inner}, 1, 13)"
    return f"(substr({inner}, 1, 14) || (CAST(substr({inner}, 15, 2) AS INTEGER) / 15))"


@compiles(bucket, "postgresql")
def _bucket_pg(element: bucket, compiler: Any, **kw: Any) -> str:
    inner = compiler.process(element.clauses, **kw)
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {inner}) / {element.size}) AS BIGINT)"


def bucket_start(value: Any, size: int) -> datetime:
    """The UTC start of a :class:`bucket` value as the database returned it."""
    if isinstance(value, int):
        return datetime.fromtimestamp(value * size, UTC)
    text = str(value)
    hour = datetime.strptime(text[:13], "%Y-%m-%d %H").replace(tzinfo=UTC)
    if size == 900:
        return hour + timedelta(minutes=15 * int(text[14:]))
    return hour


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


def _sum(condition: ColumnElement[bool], value: ColumnElement[Any]) -> ColumnElement[int]:
    return func.sum(case((condition, value), else_=0))


R = CallRecord
ANSWERED = R.disposition == "ANSWERED"
#: the caller hung up while waiting in the queue: the flow went nowhere after it
ABANDONED_IN_QUEUE = and_(
    R.queue.is_not(None), R.disposition != "ANSWERED", R.destination.like("queue:%")
)
#: the queue gave the call up (max_wait, no members): the flow went on to its overflow
TIMED_OUT = and_(
    R.queue.is_not(None),
    R.disposition != "ANSWERED",
    or_(R.destination.is_(None), ~R.destination.like("queue:%")),
)
#: a call that waited for a person: queued, or rung to the account manager first
WAITED = or_(R.queue.is_not(None), R.path.is_not(None))
_wait = func.coalesce(R.wait_seconds, 0)
_talk = func.coalesce(R.talk_seconds, 0)


def _calls(opts: ReportOptions, *columns: Any) -> Select[Any]:
    """SELECT *columns* FROM the site's call records in the period, filters applied."""
    start, end = opts.period.start.astimezone(UTC), opts.period.end.astimezone(UTC)
    query = (
        select(*columns)
        .select_from(R)
        .where(R.site == opts.site, R.started_at >= start, R.started_at < end)
    )
    if opts.queues:
        query = query.where(R.queue.in_(opts.queues))
    if opts.agents:
        query = query.where(R.agent.in_(opts.agents))
    if opts.tiers:
        query = query.where(func.coalesce(R.tier, UNKNOWN).in_(opts.tiers))
    return query


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


# -- per queue and interval ------------------------------------------------------------------
@dataclass
class QueueRow:
    """One queue in one interval (see docs/reports.md for each figure)."""

    interval: str
    queue: str
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    timed_out: int = 0
    answered_in_sl: int = 0
    abandoned_in_sl: int = 0
    wait_answered: int = 0  # seconds, summed
    longest_wait: int = 0
    talk: int = 0

    @property
    def sl(self) -> float | None:
        """queues.conf SL: answered within the threshold / answered."""
        return _ratio(self.answered_in_sl, self.answered)

    @property
    def sl2(self) -> float | None:
        """queues.conf SL2: (answered + abandoned within) / (answered + abandoned)."""
        return _ratio(self.answered_in_sl + self.abandoned_in_sl, self.answered + self.abandoned)

    @property
    def asa(self) -> float | None:
        """Average speed of answer: queue wait of answered calls / answered."""
        return _ratio(self.wait_answered, self.answered)

    @property
    def abandon_rate(self) -> float | None:
        return _ratio(self.abandoned, self.offered)

    def as_dict(self) -> dict[str, Any]:
        return {
            **{f.name: getattr(self, f.name) for f in fields(self)},
            "sl": self.sl,
            "sl2": self.sl2,
            "asa": self.asa,
            "abandon_rate": self.abandon_rate,
        }


_QUEUE_MEASURES = ("offered", "answered", "abandoned", "timed_out", "answered_in_sl",
                   "abandoned_in_sl", "wait_answered", "longest_wait", "talk")  # fmt: skip


def queue_scan(session: Session, opts: ReportOptions) -> list[Any]:
    """One pass over the period's calls grouped by (UTC bucket, queue): the rows
    :func:`queue_kpis` and :func:`hourly_heatmap` both read (queue NULL: calls that
    queued nowhere, counted by the heat map only)."""
    sl = opts.service_level
    b = bucket(R.started_at, opts.period.bucket_seconds).label("b")
    query = _calls(
        opts,
        b,
        R.queue,
        func.count(),
        _count(ANSWERED),
        _count(ABANDONED_IN_QUEUE),
        _count(TIMED_OUT),
        _count(and_(ANSWERED, _wait <= sl)),
        _count(and_(ABANDONED_IN_QUEUE, _wait <= sl)),
        _sum(ANSWERED, _wait),
        func.max(_wait),
        _sum(ANSWERED, _talk),
    ).group_by(b, R.queue)
    return list(session.execute(query))


def queue_kpis(
    session: Session,
    opts: ReportOptions,
    *,
    zero_rows: bool = True,
    scan: Sequence[Any] | None = None,
) -> list[QueueRow]:
    """Offered, answered, abandoned, timed out, SL, SL2, ASA and longest wait per queue
    and interval; every interval of the period appears for every queue seen (zeros where
    no call came)."""
    period = opts.period
    size = period.bucket_seconds
    totals: dict[tuple[IntervalKey, str], QueueRow] = {}
    queues: set[str] = set()
    for row in queue_scan(session, opts) if scan is None else scan:
        queue = row[1]
        if queue is None:
            continue
        key = period.key_of(bucket_start(row[0], size))
        queues.add(queue)
        out = totals.get((key, queue))
        if out is None:
            out = totals[(key, queue)] = QueueRow(period.label(key), queue)
        for name, value in zip(_QUEUE_MEASURES, row[2:], strict=True):
            value = int(value or 0)
            if name == "longest_wait":
                out.longest_wait = max(out.longest_wait, value)
            else:
                setattr(out, name, getattr(out, name) + value)
    queues.update(opts.queues)
    result = []
    for key in period.intervals():
        for queue in sorted(queues):
            row_ = totals.get((key, queue))
            if row_ is None and zero_rows:
                row_ = QueueRow(period.label(key), queue)
            if row_ is not None:
                result.append(row_)
    return result


def queue_totals(rows: Sequence[QueueRow]) -> list[QueueRow]:
    """The interval rows of each queue summed over the period (interval ``all``)."""
    out: dict[str, QueueRow] = {}
    for r in rows:
        t = out.setdefault(r.queue, QueueRow("all", r.queue))
        for name in _QUEUE_MEASURES:
            if name == "longest_wait":
                t.longest_wait = max(t.longest_wait, r.longest_wait)
            else:
                setattr(t, name, getattr(t, name) + getattr(r, name))
    return [out[q] for q in sorted(out)]


# -- per agent per day or week ---------------------------------------------------------------
@dataclass
class AgentRow:
    """One agent on one day (or ISO week)."""

    period: str
    agent: str
    answered_inbound: int = 0
    outbound_made: int = 0
    outbound_connected: int = 0
    talk: int = 0  # seconds
    handled: int = 0  # answered calls, inbound and outbound
    effective: int = 0  # answered calls with talk >= the threshold
    manager_first: int = 0  # calls taken as the caller's account manager, before the queue

    @property
    def aht(self) -> float | None:
        """Average handle time: talk seconds / answered calls (Asterisk's talk time runs
        from connect to hang-up, so it includes time on hold)."""
        return _ratio(self.talk, self.handled)

    def as_dict(self) -> dict[str, Any]:
        return {**{f.name: getattr(self, f.name) for f in fields(self)}, "aht": self.aht}


_AGENT_MEASURES = ("answered_inbound", "outbound_made", "outbound_connected", "talk", "handled",
                   "effective", "manager_first")  # fmt: skip


def agent_kpis(session: Session, opts: ReportOptions) -> list[AgentRow]:
    """Per agent (staff id) per local day, or per ISO week with ``--interval week``."""
    period = opts.period
    interval: Interval = "week" if period.interval == "week" else "day"
    size = period.bucket_seconds
    b = bucket(R.started_at, size).label("b")
    inbound, outbound = R.direction == "inbound", R.direction == "outbound"
    query = (
        _calls(
            opts,
            b,
            R.agent,
            _count(and_(inbound, ANSWERED)),
            _count(outbound),
            _count(and_(outbound, ANSWERED)),
            _sum(ANSWERED, _talk),
            _count(ANSWERED),
            _count(and_(ANSWERED, _talk >= opts.effective)),
            _count(and_(ANSWERED, R.path == "manager")),
        )
        .where(R.agent.is_not(None))
        .group_by(b, R.agent)
    )
    totals: dict[tuple[IntervalKey, str], AgentRow] = {}
    for row in session.execute(query):
        key = period.key_of(bucket_start(row[0], size), interval)
        out = totals.get((key, row[1]))
        if out is None:
            out = totals[(key, row[1])] = AgentRow(period.label(key, interval), row[1])
        for name, value in zip(_AGENT_MEASURES, row[2:], strict=True):
            setattr(out, name, getattr(out, name) + int(value or 0))
    return [totals[k] for k in sorted(totals)]


def leaderboard(rows: Sequence[AgentRow]) -> list[AgentRow]:
    """Each agent's figures over the whole period, most effective calls first."""
    out: dict[str, AgentRow] = {}
    for r in rows:
        t = out.setdefault(r.agent, AgentRow("all", r.agent))
        for name in _AGENT_MEASURES:
            setattr(t, name, getattr(t, name) + getattr(r, name))
    return sorted(out.values(), key=lambda r: (-r.effective, -r.talk, r.agent))


# -- per customer tier -----------------------------------------------------------------------
@dataclass
class TierRow:
    """Calls of one customer tier that waited for a person (queue or manager first)."""

    tier: str
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    wait_answered: int = 0
    wait_all: int = 0
    longest_wait: int = 0
    reached_manager: int = 0  # answered by the customer's own account manager

    @property
    def avg_wait(self) -> float | None:
        """Average wait of answered calls (the tier's ASA)."""
        return _ratio(self.wait_answered, self.answered)

    @property
    def abandon_rate(self) -> float | None:
        return _ratio(self.abandoned, self.offered)

    @property
    def manager_share(self) -> float | None:
        """Share of the tier's calls that reached their own account manager."""
        return _ratio(self.reached_manager, self.offered)

    def as_dict(self) -> dict[str, Any]:
        return {
            **{f.name: getattr(self, f.name) for f in fields(self)},
            "avg_wait": self.avg_wait,
            "abandon_rate": self.abandon_rate,
            "manager_share": self.manager_share,
        }


def tier_kpis(session: Session, opts: ReportOptions) -> list[TierRow]:
    """Wait, abandon and own-manager share per tier (the tier the call came in with)."""
    tier = func.coalesce(R.tier, UNKNOWN).label("tier")
    own_manager = and_(
        ANSWERED,
        or_(
            R.path == "manager", and_(R.agent.is_not(None), R.agent == Customer.account_manager_id)
        ),
    )
    abandoned = and_(R.disposition != "ANSWERED", R.destination.like("queue:%"))
    query = (
        _calls(
            opts,
            tier,
            func.count(),
            _count(ANSWERED),
            _count(abandoned),
            _sum(ANSWERED, _wait),
            func.sum(_wait),
            func.max(_wait),
            _count(own_manager),
        )
        .outerjoin(Customer, Customer.id == R.customer_id)
        .where(WAITED, R.direction == "inbound")
        .group_by(tier)
    )
    rows = [TierRow(r[0], *(int(v or 0) for v in r[1:])) for r in session.execute(query)]
    order = {VIP: 0, "gold": 1, "silver": 2, "standard": 3, UNKNOWN: 9}
    return sorted(rows, key=lambda r: (order.get(r.tier, 5), r.tier))


# -- per region and language -----------------------------------------------------------------
@dataclass
class GroupRow:
    """Calls and talk minutes of one region or language."""

    name: str
    calls: int = 0
    answered: int = 0
    talk: int = 0  # seconds

    @property
    def minutes(self) -> float:
        return self.talk / 60

    def as_dict(self) -> dict[str, Any]:
        return {**{f.name: getattr(self, f.name) for f in fields(self)}, "minutes": self.minutes}


def people_scan(session: Session, opts: ReportOptions) -> list[Any]:
    """One pass grouped by (customer region, customer language, caller number when the
    customer's region is unknown): what :func:`region_kpis` and :func:`language_kpis`
    read."""
    number = case((Customer.region.is_(None), R.caller), else_=literal(None)).label("number")
    query = (
        _calls(
            opts,
            Customer.region,
            Customer.language,
            number,
            func.count(),
            _count(ANSWERED),
            _sum(ANSWERED, _talk),
        )
        .outerjoin(Customer, Customer.id == R.customer_id)
        .group_by(Customer.region, Customer.language, number)
    )
    return list(session.execute(query))


def _grouped(rows: Sequence[Any], name_of: Any) -> list[GroupRow]:
    out: dict[str, GroupRow] = {}
    for row in rows:
        name = name_of(row)
        group = out.setdefault(name, GroupRow(name))
        group.calls += int(row[3])
        group.answered += int(row[4] or 0)
        group.talk += int(row[5] or 0)
    return sorted(out.values(), key=lambda r: (-r.calls, r.name))


def region_kpis(
    session: Session, opts: ReportOptions, scan: Sequence[Any] | None = None
) -> list[GroupRow]:
    """Calls and minutes per region: the customer's region, else the geography of the
    caller's number (:func:`~callflow.reports.regions.region_of_number`); each distinct
    number is looked up once."""
    rows = people_scan(session, opts) if scan is None else scan
    return _grouped(rows, lambda r: r[0] or region_of_number(r[2]))


def language_kpis(
    session: Session, opts: ReportOptions, scan: Sequence[Any] | None = None
) -> list[GroupRow]:
    """Calls and minutes per customer language (``default_language`` for callers whose
    language is unknown: the site's)."""
    rows = people_scan(session, opts) if scan is None else scan
    return _grouped(rows, lambda r: r[1] or opts.default_language)


# -- calls per hour heat map -----------------------------------------------------------------
def hourly_heatmap(
    session: Session, opts: ReportOptions, scan: Sequence[Any] | None = None
) -> list[list[int]]:
    """Calls by local weekday (0 = Monday) and local hour: a 7 x 24 grid."""
    period = opts.period
    size = period.bucket_seconds
    grid = [[0] * 24 for _ in range(7)]
    for row in queue_scan(session, opts) if scan is None else scan:
        local = bucket_start(row[0], size).astimezone(period.tz)
        grid[local.weekday()][local.hour] += int(row[2])
    return grid


def service_level_series(rows: Sequence[QueueRow]) -> list[tuple[str, float | None, float | None]]:
    """(interval, SL, SL2) over all queues, for the SL-over-time chart."""
    by: dict[str, QueueRow] = {}
    order: list[str] = []
    for r in rows:
        if r.interval not in by:
            order.append(r.interval)
            by[r.interval] = QueueRow(r.interval, "all")
        t = by[r.interval]
        for name in ("answered", "abandoned", "answered_in_sl", "abandoned_in_sl"):
            setattr(t, name, getattr(t, name) + getattr(r, name))
    return [(i, by[i].sl, by[i].sl2) for i in order]


# -- per campaign ----------------------------------------------------------------------------
@dataclass
class CampaignRow:
    """One outbound campaign over the period (attempts made in it)."""

    campaign: str
    attempts: int = 0
    contacts: int = 0  # distinct numbers dialled
    contacted: int = 0  # attempts that reached a person
    abandoned: int = 0
    optouts: int = 0
    cap: float = ABANDON_CAP
    dispositions: dict[str, int] = field(default_factory=dict)

    @property
    def contact_rate(self) -> float | None:
        return _ratio(self.contacted, self.attempts)

    @property
    def abandon_rate(self) -> float | None:
        """Abandoned / live-answered (the TSR and Ofcom measure)."""
        return _ratio(self.abandoned, self.contacted)

    @property
    def over_cap(self) -> bool:
        return (self.abandon_rate or 0.0) > self.cap

    def as_dict(self) -> dict[str, Any]:
        return {
            **{f.name: getattr(self, f.name) for f in fields(self)},
            "contact_rate": self.contact_rate,
            "abandon_rate": self.abandon_rate,
            "over_cap": self.over_cap,
        }


def campaign_kpis(session: Session, opts: ReportOptions) -> list[CampaignRow]:
    """Attempts, contact rate, dispositions, abandon rate against the cap and opt-outs."""
    A = CampaignAttempt
    start, end = opts.period.start.astimezone(UTC), opts.period.end.astimezone(UTC)
    when = func.coalesce(A.dialled_at, A.created_at)
    scope = [A.site == opts.site, when >= start, when < end]
    if opts.campaigns:
        scope.append(A.campaign.in_(opts.campaigns))
    disposition = func.coalesce(A.disposition, "pending").label("disposition")
    query = select(A.campaign, disposition, func.count()).where(*scope)
    out: dict[str, CampaignRow] = {}
    for campaign, disp, count in session.execute(query.group_by(A.campaign, disposition)):
        row = out.setdefault(campaign, CampaignRow(campaign, cap=opts.abandon_cap))
        row.attempts += int(count)
        row.dispositions[disp] = int(count)
        if disp in CONTACTED:
            row.contacted += int(count)
        if disp == ABANDONED:
            row.abandoned += int(count)
    contacts = select(A.campaign, func.count(A.number.distinct())).where(*scope)
    for campaign, count in session.execute(contacts.group_by(A.campaign)):
        out[campaign].contacts = int(count)
    optouts = select(DncNumber.campaign, func.count()).where(
        DncNumber.source == "optout",
        DncNumber.campaign.is_not(None),
        DncNumber.created_at >= start,
        DncNumber.created_at < end,
    )
    if opts.campaigns:
        optouts = optouts.where(DncNumber.campaign.in_(opts.campaigns))
    for name, count in session.execute(optouts.group_by(DncNumber.campaign)):
        if name is not None:
            out.setdefault(name, CampaignRow(name, cap=opts.abandon_cap)).optouts = int(count)
    return [out[c] for c in sorted(out)]


@dataclass
class SurveyRow:
    """The answers to one survey question: their distribution, average and CSAT."""

    campaign: str  # "" for questions asked on inbound calls
    question: str
    distribution: dict[str, int] = field(default_factory=dict)

    @property
    def answers(self) -> int:
        return sum(self.distribution.values())

    @property
    def average(self) -> float | None:
        total = sum(int(a) * n for a, n in self.distribution.items())
        return _ratio(total, self.answers)

    @property
    def csat(self) -> float | None:
        """CSAT: share of answers in the top two of the 1-5 scale (4 or 5)."""
        return _ratio(sum(n for a, n in self.distribution.items() if a in ("4", "5")), self.answers)

    def as_dict(self) -> dict[str, Any]:
        return {
            **{f.name: getattr(self, f.name) for f in fields(self)},
            "answers": self.answers,
            "average": self.average,
            "csat": self.csat,
        }


def survey_kpis(session: Session, opts: ReportOptions) -> list[SurveyRow]:
    """The answer distribution per (campaign, question) of calls in the period."""
    S = SurveyResponse
    query = (
        _calls(opts, S.campaign, S.question, S.answer, func.count())
        .join(S, S.call_record_id == R.id)
        .group_by(S.campaign, S.question, S.answer)
    )
    if opts.campaigns:
        query = query.where(S.campaign.in_(opts.campaigns))
    out: dict[tuple[str, str], SurveyRow] = {}
    for campaign, question, answer, count in session.execute(query):
        row = out.setdefault((campaign, question), SurveyRow(campaign, question))
        row.distribution[answer] = int(count)
    for row in out.values():
        row.distribution = dict(sorted(row.distribution.items(), key=lambda kv: int(kv[0])))
    return [out[k] for k in sorted(out)]


# -- recordings ------------------------------------------------------------------------------
@dataclass
class RecordingRow:
    """An answered call with a recording, for the supervisor's review list."""

    started_at: str
    agent: str | None
    queue: str | None
    talk: int
    file: str

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def recordings(session: Session, opts: ReportOptions, limit: int = 50) -> list[RecordingRow]:
    """The longest answered calls that have a recording (``recording_file``)."""
    query = (
        _calls(opts, R.started_at, R.agent, R.queue, _talk, R.recording_file)
        .where(R.recording_file.is_not(None), ANSWERED)
        .order_by(_talk.desc(), R.started_at)
        .limit(limit)
    )
    return [
        RecordingRow(
            (s if s.tzinfo else s.replace(tzinfo=UTC))
            .astimezone(opts.period.tz)
            .isoformat(timespec="seconds"),
            agent,
            queue,
            int(talk),
            file,
        )
        for s, agent, queue, talk, file in session.execute(query)
    ]


# -- filters the user can get wrong ----------------------------------------------------------
def check_filters(
    session: Session,
    opts: ReportOptions,
    known_queues: Sequence[str] = (),
    known_campaigns: Sequence[str] = (),
) -> None:
    """A queue, agent, campaign or tier filter that names nothing known is a typo: one
    :class:`ReportError` naming it and what exists (the site's queues, the store's)."""
    checks = (
        ("queue", opts.queues, set(known_queues) | _distinct(session, R.queue, opts)),
        ("agent", opts.agents, _distinct(session, R.agent, opts)),
        ("tier", opts.tiers, _distinct(session, func.coalesce(R.tier, UNKNOWN), opts)
         | {VIP, "gold", "silver", "standard", UNKNOWN}),
        ("campaign", opts.campaigns,
         set(session.scalars(select(CampaignAttempt.campaign).distinct().where(
             CampaignAttempt.site == opts.site))) | set(known_campaigns)),
    )  # fmt: skip
    for what, given, known in checks:
        unknown = sorted(set(given) - known)
        if unknown:
            shown = ", ".join(sorted(k for k in known if k)) or "none recorded"
            raise ReportError(f"unknown {what} {unknown[0]!r}; known: {shown}")


def _distinct(session: Session, column: Any, opts: ReportOptions) -> set[str]:
    return {v for v in session.scalars(select(column).where(R.site == opts.site).distinct()) if v}
