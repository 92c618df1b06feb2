"""Deploy killed at random points against the real Asterisk 22 sandbox.

Each round starts `callflow deploy` (a change, a version Asterisk rejects, or a
rollback) through a slowed Asterisk CLI, kills it at a random moment (SIGKILL to its
process group, SIGINT or SIGTERM), then runs a plain deploy. Whatever the moment, the
plain deploy must succeed and leave Asterisk running a verified version that is
``current``, read back from Asterisk itself (the version marker and the dialplan). And
what the killed run said before dying (deployed X, interrupted while running X) must be
what Asterisk ran at that moment. The seed is printed; set CF_FAULT_SEED to replay.
"""

from __future__ import annotations

import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from callflow.deploy import RELOAD_COMMANDS, SiteTree, ensure_includes
from callflow.sandbox import Sandbox

pytestmark = pytest.mark.asterisk

KILLS_WANTED = 50  # rounds go on until this many runs were killed mid-way
KILLS = ("SIGKILL group", "SIGINT", "SIGTERM", "SIGINT group")
SITE = "ft"
CALLFLOW = str(Path(sys.executable).with_name("callflow"))

SITE_FILE = """\
from callflow import Hangup, Play, Site

PLAYS = {plays}
nodes = [
    Play(id=f"p{{i}}", prompts="hello-world", next=f"p{{i + 1}}" if i + 1 < PLAYS else "bye")
    for i in range(PLAYS)
]
site = Site(name="{name}", entries={{"100": "p0"}}, nodes=[*nodes, Hangup(id="bye")])
"""

# A site Asterisk rejects: the compiled text gets an unclosed section header, so Asterisk
# stops parsing there and the deploy fails verification and goes back on its own.
REJECTED_FILE = (
    SITE_FILE.format(plays=4, name=SITE)
    + """
import dataclasses
import callflow.deploy.journal as journal

_compile = journal.compile_site


def _broken(site):
    compiled = _compile(site)
    text = compiled.files["extensions.conf"].replace("[cf-ft-p1]", "[cf-ft-p1")
    return dataclasses.replace(compiled, files={**compiled.files, "extensions.conf": text})


journal.compile_site = _broken
"""
)

SLOW = """\
#!/bin/sh
# the sandbox's `asterisk -rx`, slowed on both sides to widen every window; each call
# leaves a line in {marker} (the test times its kills from the deploy's first call)
echo x >> {marker}
sleep {pause}
{command} "$@"
rc=$?
sleep {pause}
exit $rc
"""


@pytest.fixture
def workspace(sandbox: Sandbox, tmp_path: Path) -> Iterator[Path]:
    """Site files and the slowed CLI; afterwards the site is taken out of the sandbox."""
    for plays in (2, 3):
        (tmp_path / f"ft{plays}.py").write_text(SITE_FILE.format(plays=plays, name=SITE))
    (tmp_path / "rejected.py").write_text(REJECTED_FILE)
    slow = tmp_path / "slow-asterisk"
    slow.write_text(
        SLOW.format(
            pause=0.05,
            command=shlex.join(sandbox.asterisk_command()),
            marker=shlex.quote(str(tmp_path / "calls")),
        )
    )
    slow.chmod(0o755)
    yield tmp_path
    ensure_includes(sandbox.etc_dir, SITE, present=False)
    shutil.rmtree(sandbox.etc_dir / "callflow" / SITE, ignore_errors=True)
    for command in RELOAD_COMMANDS:
        sandbox.cli(command)


def _wait_for_first_call(proc: subprocess.Popen[str], calls: Path) -> None:
    """Until the deploy runs its first Asterisk command (or exits, or 30 s pass)."""
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline:
        if calls.exists() and calls.stat().st_size:
            return
        time.sleep(0.01)


def running_version(sandbox: Sandbox) -> str | None:
    """The version Asterisk says it runs: the marker context deploy appends."""
    shown = sandbox.cli(f"dialplan show callflow-version-{SITE}")
    found = re.search(r"NoOp\(callflow (\S+) ([0-9a-f]{64})\)", shown)
    return found.group(1) if found else None


def assert_runs(sandbox: Sandbox, version: str) -> None:
    """Asterisk runs ``version`` exactly: marker, hash, every context and its priorities."""
    tree = SiteTree(sandbox.etc_dir, SITE)
    manifest = tree.manifest(version)
    shown = sandbox.cli(f"dialplan show callflow-version-{SITE}")
    assert f"NoOp(callflow {version} {manifest.hash})" in shown, shown
    for context, count in manifest.contexts.items():
        assert f"({count} priorities) in 1 context" in sandbox.cli(f"dialplan show {context}")
    has_p2 = "cf-ft-p2" in manifest.contexts
    assert ("There is no existence" in sandbox.cli("dialplan show cf-ft-p2")) != has_p2


def said_version(output: str) -> str | None:
    """The version a run's last words claim Asterisk runs."""
    found = re.search(
        r"(?:deployed|unchanged.*?|rolled back to) version (\S+)|runs the verified version (\S+)",
        output,
    )
    if not found:
        return None
    return found.group(1) or found.group(2)


def test_deploy_killed_at_random_points_always_ends_on_a_verified_current_version(
    sandbox: Sandbox, workspace: Path
) -> None:
    seed = int(os.environ.get("CF_FAULT_SEED", random.randrange(1 << 32)))
    print(f"\nfault injection seed: {seed} (CF_FAULT_SEED={seed} replays it)")
    rng = random.Random(seed)
    etc = str(sandbox.etc_dir)
    plain = shlex.join(sandbox.asterisk_command())
    slow = str(workspace / "slow-asterisk")
    tree = SiteTree(sandbox.etc_dir, SITE)
    calls = workspace / "calls"

    def run(args: list[str], cmd: str) -> subprocess.CompletedProcess[str]:
        argv = [CALLFLOW, "deploy", *args, "--asterisk-etc", etc, "--asterisk-cmd", cmd]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)

    first = run([str(workspace / "ft2.py")], plain)
    assert first.returncode == 0, first.stdout + first.stderr
    stats: Counter[str] = Counter()
    started = time.monotonic()
    round_no = 0
    while stats["killed"] < KILLS_WANTED:
        round_no += 1
        assert round_no <= 3 * KILLS_WANTED, f"runs keep finishing before the kill: {stats}"
        kind = rng.choice(["ft2", "ft3", "rejected", "rollback"])
        args = ["ft", "--rollback"] if kind == "rollback" else [str(workspace / f"{kind}.py")]
        for _attempt in range(2 if rng.random() < 0.25 else 1):  # sometimes kill a recovery too
            calls.write_text("")
            argv = [CALLFLOW, "deploy", *args, "--asterisk-etc", etc, "--asterisk-cmd", slow]
            proc = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                start_new_session=True,
            )  # fmt: skip
            how = "finished"
            # mostly timed from the deploy's first Asterisk call, so the kills land in the
            # deploy however long Python takes to start (the suite runs on parallel
            # workers); sometimes from the start, so Ctrl-C during start-up is covered too
            if rng.random() < 0.8:
                _wait_for_first_call(proc, calls)
            try:
                proc.wait(timeout=rng.uniform(0.1, 0.9))
            except subprocess.TimeoutExpired:
                how = KILLS[stats["killed"] % len(KILLS)]  # each as often; the moment is random
                stats["killed"] += 1
                sig = {"SIGKILL": signal.SIGKILL, "SIGINT": signal.SIGINT}.get(
                    how.split()[0], signal.SIGTERM
                )
                if how.endswith("group"):
                    os.killpg(proc.pid, sig)
                else:
                    proc.send_signal(sig)
            output, _ = proc.communicate(timeout=60)
            stats[how] += 1
            pending = tree.journal().pending
            stats["left pending"] += pending is not None
            claim = said_version(output) if proc.returncode in (0, 130) else None
            context = f"round {round_no} ({kind}, {how}, rc {proc.returncode}):\n{output}"
            if claim is not None:  # what it said must be what Asterisk ran as it exited
                assert running_version(sandbox) == claim, context
                stats["claims checked"] += 1
            # Ctrl-C while Python is still importing prints Python's own traceback, before
            # any deploy code runs (every callflow frame is a module body, `in <module>`);
            # anywhere else a traceback is a bug
            starting = output.rstrip().endswith("KeyboardInterrupt") and not re.search(
                r'callflow/[^"]*", line \d+, in (?!<module>)', output
            )
            assert "Traceback" not in output or starting, context

        target = rng.choice(["ft2", "ft3"])
        rerun = run([str(workspace / f"{target}.py")], plain)
        context = f"round {round_no} re-run of {target}:\n{rerun.stdout}{rerun.stderr}"
        assert rerun.returncode == 0, context
        stats["re-run recovered first"] += "first undid" in rerun.stdout
        version = said_version(rerun.stdout)
        assert version is not None, context
        journal = tree.journal()
        assert (tree.current(), journal.verified, journal.pending) == (version, version, None)
        assert_runs(sandbox, version)
        assert len(tree.manifest(version).contexts) == {"ft2": 5, "ft3": 6}[target], context

    print(f"{round_no} rounds in {time.monotonic() - started:.1f}s: {dict(sorted(stats.items()))}")
    # the kills really landed inside switches, and re-runs really had to recover
    assert stats["claims checked"] >= 10, stats
    assert stats["left pending"] >= 3 and stats["re-run recovered first"] >= 3, stats
