"""`callflow campaign check` over numbers in many time zones at fixed instants (DST change
days in New York and London, China's Golden Week and a make-up working day) is a golden
file: tests/golden/campaign_check.expected. Regenerate after an intended change with
``CALLFLOW_UPDATE_GOLDEN=1 pytest tests/golden/test_campaign_check.py`` and review."""

from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner

from callflow.cli import main

HERE = Path(__file__).parent
EXPECTED = HERE / "campaign_check.expected"
RUNS = [
    ("tsr", "2026-03-08T12:30:00Z"),  # New York 08:30 EDT, first day of DST
    ("tsr", "2026-03-29T07:30:00Z"),  # London 08:30 BST, first day of BST
    ("tsr", "2026-10-25T07:30:00Z"),  # London 07:30 GMT, BST just ended
    ("tsr", "2026-11-01T12:30:00Z"),  # New York 07:30 EST, DST just ended
    ("cn", "2026-09-20T10:00:00+08:00"),  # Sunday, a make-up working day in China
    ("cn", "2026-09-21T10:00:00+08:00"),  # Monday, a site holiday
    ("cn", "2026-10-01T10:00:00+08:00"),  # National Day
    ("nocid", "2026-12-01T10:00:00+08:00"),  # no caller ID: cannot launch
]


def _cli(args: list[str], db: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--db", db], catch_exceptions=False)
    return result.exit_code, result.output


def _transcript(tmp_path: Path) -> str:
    db = f"sqlite:///{tmp_path}/golden.db"
    site = str(HERE / "outbound_site.py")
    assert _cli(["db", "upgrade"], db)[0] == 0
    for campaign in ("tsr", "cn", "nocid"):
        code, out = _cli(
            ["campaign", "load", site, campaign, "--csv", str(HERE / "outbound_list.csv")], db
        )
        assert code == 0, out
    assert _cli(["dnc", "add", "+12125550122", "--reason", "asked"], db)[0] == 0
    parts = []
    for campaign, moment in RUNS:
        code, out = _cli(["campaign", "check", site, campaign, "--at", moment], db)
        parts.append(f"$ callflow campaign check outbound_site.py {campaign} --at {moment}\n")
        parts.append(out + f"[exit {code}]\n\n")
    return "".join(parts)


def test_campaign_check_matches_the_golden_file(tmp_path: Path) -> None:
    text = _transcript(tmp_path)
    if os.environ.get("CALLFLOW_UPDATE_GOLDEN") == "1":
        EXPECTED.write_text(text)
    assert EXPECTED.read_text() == text


def test_check_json_counts_match_the_rows(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/golden.db"
    site = str(HERE / "outbound_site.py")
    _cli(["db", "upgrade"], db)
    _cli(["campaign", "load", site, "tsr", "--csv", str(HERE / "outbound_list.csv")], db)
    code, out = _cli(
        ["campaign", "check", site, "tsr", "--at", "2026-03-08T12:30:00Z", "--json"], db
    )
    assert code == 0
    plan = json.loads(out)
    outcomes = [row["outcome"] for row in plan["contacts"]]
    assert plan["counts"] == {k: outcomes.count(k) for k in ("now", "later", "excluded")}
    assert sum(plan["reasons"].values()) == len(outcomes) - outcomes.count("now")
    by_number = {row["number"]: row for row in plan["contacts"]}
    assert by_number["+12125550100"]["outcome"] == "now"  # 08:30 EDT
    assert by_number["+12125550111"]["zones"] == ["Europe/Berlin"]
