"""The HTML report's charts, drawn by matplotlib as inline SVG.

Why matplotlib and SVG: the report must open offline with no scripts from a CDN, and an
SVG drawn on the server needs no JavaScript at all (Altair/Vega-Lite would need the Vega
runtime inlined, ~1 MB, or vl-convert's bundled Deno to pre-render). matplotlib is
mature, packaged by Debian, and its SVG output is deterministic once the hash salt and
date are fixed. Text is drawn as paths, so the page looks the same without the fonts::

    svg = heatmap_svg(report.heatmap)      # '<svg ...>...</svg>'

Each chart with no data draws a labelled empty frame ("no calls in this period") so a
chart area is never blank by accident.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

import matplotlib
from matplotlib.figure import Figure

from callflow.reports.kpis import AgentRow, CampaignRow, SurveyRow, TierRow

matplotlib.rcParams["svg.hashsalt"] = "callflow"
matplotlib.rcParams["svg.fonttype"] = "path"
matplotlib.rcParams["font.size"] = 9

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.DOTALL)
BLUE, ORANGE, GREY, GREEN, RED = "#2f6db5", "#e8833a", "#9aa5b1", "#3a9a5b", "#c8413b"


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg") :]  # drop the XML prolog and DOCTYPE: inline in HTML
    return _METADATA.sub("", text, count=1)  # the RDF block names w3.org/purl.org URIs


def _empty(fig: Figure, message: str) -> str:
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, message, ha="center", va="center", color=GREY, transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])
    return _svg(fig)


def heatmap_svg(grid: Sequence[Sequence[int]]) -> str:
    """Calls per local weekday and hour."""
    fig = Figure(figsize=(8, 2.8))
    if not any(any(row) for row in grid):
        return _empty(fig, "no calls in this period")
    ax = fig.add_subplot()
    image = ax.imshow(grid, aspect="auto", cmap="Blues")
    ax.set_yticks(range(7), DAYS)
    ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    ax.set_xlabel("hour (site time)")
    fig.colorbar(image, ax=ax, label="calls")
    return _svg(fig)


def service_level_svg(
    series: Sequence[tuple[str, float | None, float | None]], threshold: int
) -> str:
    """SL and SL2 per interval (gaps where no call was answered or abandoned)."""
    fig = Figure(figsize=(8, 2.8))
    if not any(sl is not None or sl2 is not None for _, sl, sl2 in series):
        return _empty(fig, "no answered or abandoned queue calls")
    ax = fig.add_subplot()
    xs = range(len(series))
    for values, label, colour in (
        ([s[1] for s in series], f"SL (answered within {threshold} s)", BLUE),
        ([s[2] for s in series], "SL2 (answered + abandoned within)", ORANGE),
    ):
        ax.plot(
            xs,
            [float("nan") if v is None else 100 * v for v in values],
            marker="o",
            markersize=3,
            label=label,
            color=colour,
        )
    step = max(1, len(series) // 8)
    ax.set_xticks(list(xs)[::step], [s[0] for s in series][::step], rotation=20, ha="right")
    ax.set_ylim(0, 105)
    ax.set_ylabel("%")
    ax.legend(loc="lower left", fontsize=8)
    return _svg(fig)


def wait_by_tier_svg(tiers: Sequence[TierRow]) -> str:
    """Average wait of answered calls and abandon rate per customer tier."""
    fig = Figure(figsize=(8, 2.8))
    if not tiers:
        return _empty(fig, "no queued calls")
    ax = fig.add_subplot()
    names = [t.tier for t in tiers]
    ax.bar(names, [t.avg_wait or 0 for t in tiers], color=BLUE, label="average wait (s)")
    ax.set_ylabel("average wait of answered calls (s)")
    rate = ax.twinx()
    rate.plot(names, [100 * (t.abandon_rate or 0) for t in tiers], "o-", color=RED)
    rate.set_ylabel("abandoned (%)", color=RED)
    rate.set_ylim(0, 100)
    return _svg(fig)


def leaderboard_svg(agents: Sequence[AgentRow], threshold: int, top: int = 15) -> str:
    """Effective calls (talk >= threshold) and other answered calls per agent."""
    rows = list(agents)[:top]
    fig = Figure(figsize=(8, max(2.0, 0.3 * len(rows) + 0.8)))
    if not rows:
        return _empty(fig, "no answered calls")
    ax = fig.add_subplot()
    names = [r.agent for r in rows][::-1]
    effective = [r.effective for r in rows][::-1]
    other = [r.handled - r.effective for r in rows][::-1]
    ax.barh(names, effective, color=GREEN, label=f"effective (talk >= {threshold} s)")
    ax.barh(names, other, left=effective, color=GREY, label="other answered")
    ax.set_xlabel("calls")
    ax.legend(loc="lower right", fontsize=8)
    return _svg(fig)


def funnel_svg(campaigns: Sequence[CampaignRow]) -> str:
    """Per campaign: attempts, numbers dialled, reached a person, opted out."""
    fig = Figure(figsize=(8, 2.8))
    if not campaigns:
        return _empty(fig, "no campaign attempts")
    ax = fig.add_subplot()
    stages = ("attempts", "contacts", "contacted", "optouts")
    width = 0.8 / len(stages)
    for i, (stage, colour) in enumerate(zip(stages, (GREY, BLUE, GREEN, RED), strict=True)):
        ax.bar(
            [j + i * width for j in range(len(campaigns))],
            [getattr(c, stage) for c in campaigns],
            width,
            label=stage,
            color=colour,
        )
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(campaigns))])
    ax.set_xticklabels([c.campaign for c in campaigns])
    ax.legend(fontsize=8)
    return _svg(fig)


def survey_svg(surveys: Sequence[SurveyRow]) -> str:
    """Each question's answers, as a stacked bar of shares."""
    fig = Figure(figsize=(8, max(2.0, 0.4 * len(surveys) + 0.8)))
    if not surveys:
        return _empty(fig, "no survey answers")
    ax = fig.add_subplot()
    labels = [f"{s.campaign or 'inbound'}: {s.question}" for s in surveys][::-1]
    answers = sorted({a for s in surveys for a in s.distribution}, key=int)
    cmap = matplotlib.colormaps["RdYlGn"]
    left = [0.0] * len(surveys)
    for k, answer in enumerate(answers):
        shares = [
            100 * s.distribution.get(answer, 0) / s.answers if s.answers else 0.0 for s in surveys
        ][::-1]
        ax.barh(labels, shares, left=left, label=answer, color=cmap(k / max(1, len(answers) - 1)))
        left = [a + b for a, b in zip(left, shares, strict=True)]
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of answers")
    ax.legend(title="answer", ncols=min(len(answers), 10), fontsize=8, loc="upper center",
              bbox_to_anchor=(0.5, -0.25))  # fmt: skip
    return _svg(fig)
