"""The HTML report in a real headless Chromium: no console errors, every chart drawn.

The report is rendered from generated call records (benchmarks/report.py's data: a
month of a 4S dealer). Each chart's figure is screenshotted on its own and must show a
drawing: several colours, a good share of non-white pixels. The detector itself is
checked on a page that logs an error and has an empty chart area.
"""

from __future__ import annotations

import io
import os
import re
from datetime import timedelta

import pytest
from PIL import Image

from benchmarks.report import DAYS, SITE, START, TZ, generate
from callflow.reports import Period, ReportOptions, build_report, zone
from callflow.reports.render import as_html, write_atomic
from callflow.store import make_engine, make_sessionmaker, upgrade
from tests.chromium import Chromium, ChromiumUnavailable

CHARTS = ["chart-heatmap", "chart-service-level", "chart-tiers", "chart-leaderboard",
          "chart-funnel", "chart-surveys"]  # fmt: skip


def ink(png: bytes) -> tuple[float, int]:
    """(share of pixels that are not near-white, number of distinct colours)."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    pixels = [
        image.getpixel((x, y)) for y in range(0, image.height, 2) for x in range(0, image.width, 2)
    ]
    drawn = sum(1 for p in pixels if min(p) < 235)
    return drawn / len(pixels), len(set(pixels))


async def open_page(tmp_path, html_path):
    try:
        async with Chromium.start(tmp_path / "profile") as browser:
            page = await browser.open(html_path)
            shots = {
                b["id"]: await browser.screenshot(b) for b in await browser.boxes("figure svg")
            }
            full = await browser.screenshot()
            return page, shots, full
    except ChromiumUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def report_html(tmp_path_factory):
    path = tmp_path_factory.mktemp("report")
    url = f"sqlite:///{path}/calls.db"
    upgrade(url)
    engine = make_engine(url)
    generate(engine, 5000)
    period = Period(START, START + timedelta(days=DAYS), zone(TZ), "day")
    with make_sessionmaker(engine)() as session:
        report = build_report(session, ReportOptions(site=SITE, period=period, service_level=30))
    engine.dispose()
    out = path / "report.html"
    write_atomic(out, as_html(report, recordings_url="https://pbx.example/recordings"))
    return out


async def test_report_opens_without_errors_and_draws_every_chart(tmp_path, report_html):
    text = report_html.read_text()
    # self-contained: nothing to run, nothing to fetch
    assert not re.search(r"<script|<link|<iframe|<img|src=|url\((?!#)", text)
    assert "<metadata>" not in text
    page, shots, full = await open_page(tmp_path, report_html)
    assert page.errors == []
    assert sorted(shots) == sorted(CHARTS)
    for chart, png in shots.items():
        share, colours = ink(png)
        assert share > 0.05 and colours > 20, (chart, share, colours)
    assert ink(full)[0] > 0.05
    assert 'href="https://pbx.example/recordings/star_motors/' in text


async def test_the_detector_sees_console_errors_and_blank_charts(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><body><figure id='chart-x'><svg width='400' height='200'>"
        "</svg></figure><script>console.error('broken chart')</script>"
        "<img src='missing.png'></body></html>"
    )
    page, shots, _ = await open_page(tmp_path, bad)
    assert any("broken chart" in e for e in page.errors)
    assert any("missing.png" in e or "ERR_FILE_NOT_FOUND" in e for e in page.errors), page.errors
    share, colours = ink(shots["chart-x"])
    assert share < 0.01 and colours <= 2
