"""campaign pause|resume|stop|status|run from the command line: the status goes through
the store, and user mistakes end in one clear message, exit 1 (or 2 for usage), no
traceback."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from callflow.cli import main
from callflow.store import upgrade

SITE = """
from callflow import Hangup, Site
from callflow.model.campaigns import CallingWindow, Campaign
from callflow.model.schedule import Hours

def campaign(id, caller_id):
    return Campaign(id=id, kind="playback", message="beep", caller_id=caller_id,
                    window=CallingWindow(hours=(Hours("mon-fri", "09:00", "18:00"),)))

site = Site(name="clid", entries={"100": "bye"}, nodes=(Hangup(id="bye"),),
            campaigns=(campaign("promo", "+442079460999"), campaign("silent", None)),
            timezone="Europe/London")
"""


def setup(tmp_path: Path) -> tuple[str, str]:
    site = tmp_path / "clid.py"
    site.write_text(SITE)
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    upgrade(url)
    return str(site), url


def test_pause_resume_stop_and_status_go_through_the_store(tmp_path: Path) -> None:
    site, url = setup(tmp_path)
    runner = CliRunner()
    out = runner.invoke(main, ["campaign", "pause", site, "promo", "--db", url])
    assert out.exit_code == 0, out.output
    assert "promo of clid: paused (was idle)" in out.output
    out = runner.invoke(main, ["campaign", "status", site, "promo", "--db", url, "--json"])
    assert out.exit_code == 0, out.output
    status = json.loads(out.output)
    assert status["status"] == "paused" and status["dialled"] == 0 and status["remaining"] == 0
    out = runner.invoke(main, ["campaign", "resume", site, "promo", "--db", url])
    assert "running (was paused)" in out.output
    out = runner.invoke(main, ["campaign", "stop", site, "promo", "--db", url])
    assert "stopped (was running)" in out.output
    out = runner.invoke(main, ["campaign", "status", site, "promo", "--db", url])
    assert out.exit_code == 0 and "stopped" in out.output


def test_mistakes_are_one_clear_message(tmp_path: Path) -> None:
    site, url = setup(tmp_path)
    runner = CliRunner()
    out = runner.invoke(main, ["campaign", "pause", site, "nosuch", "--db", url])
    assert out.exit_code == 1 and "has no campaign 'nosuch'" in out.output
    assert "Traceback" not in out.output
    out = runner.invoke(main, ["campaign", "run", site, "silent", "--db", url,
                               "--ari-user", "x"])  # fmt: skip
    assert out.exit_code == 1 and "has no caller_id" in out.output
    out = runner.invoke(main, ["campaign", "run", site, "promo", "--db", url, "--cps", "0"])
    assert out.exit_code == 2 and "--cps" in out.output
    out = runner.invoke(main, ["serve", "--campaign", "promo"])
    assert out.exit_code == 2 and "--campaign needs SITE" in out.output
    out = runner.invoke(main, ["serve", site, "--campaign", "nosuch", "--ari-user", "x"])
    assert out.exit_code == 2 and "has no campaign 'nosuch'" in out.output
    missing = f"sqlite:///{tmp_path / 'none' / 'x.db'}"
    out = runner.invoke(main, ["campaign", "status", site, "promo", "--db", missing])
    assert out.exit_code == 1 and "Traceback" not in out.output


def test_run_without_ami_warns_and_a_bad_or_unreachable_ami_is_one_error(tmp_path: Path) -> None:
    site, url = setup(tmp_path)
    runner = CliRunner()
    missing = f"sqlite:///{tmp_path / 'none' / 'x.db'}"
    out = runner.invoke(main, ["campaign", "run", site, "promo", "--db", missing,
                               "--ari-user", "x"])  # fmt: skip
    assert out.exit_code == 1 and "Traceback" not in out.output
    assert "no --ami: the answers and opt-outs of campaign 'promo' are stored only" in out.output
    out = runner.invoke(main, ["campaign", "run", site, "promo", "--db", url, "--ari-user", "x",
                               "--ami", "pbx:notaport"])  # fmt: skip
    assert out.exit_code == 2 and "--ami" in out.output and "Traceback" not in out.output
    # nothing listens on port 1: the records service fails first, nothing is dialled
    out = runner.invoke(main, ["campaign", "run", site, "promo", "--db", url, "--ari-user", "x",
                               "--ami", "127.0.0.1:1", "--ami-wait", "1"])  # fmt: skip
    assert out.exit_code == 1 and "Traceback" not in out.output, out.output
    assert "call records (AMI) failed to start: AMI 127.0.0.1:1: unreachable after 1 s" in (
        out.output
    )
    assert "no --ami" not in out.output
