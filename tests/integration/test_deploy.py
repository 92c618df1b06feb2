"""deploy/rollback against the real Asterisk 22 sandbox.

Each test deploys under its own site name into the session's sandbox and takes its
include lines out again afterwards, so the tests can run in any order.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shlex
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import callflow.deploy.journal
from callflow import Hangup, Play, Site, compile_site
from callflow.compiler import CompiledSite
from callflow.deploy import (
    RELOAD_COMMANDS,
    CliControl,
    DeployRefused,
    SiteTree,
    deploy,
    ensure_includes,
    rollback,
)
from callflow.errors import DeployError
from callflow.loader import load_site
from callflow.sandbox import Sandbox
from callflow.testing import CallDriver, without_phones

pytestmark = pytest.mark.asterisk


def tiny(name: str, plays: int) -> Site:
    nodes = [
        Play(id=f"p{i}", prompts="hello-world", next=f"p{i + 1}" if i + 1 < plays else "bye")
        for i in range(plays)
    ]
    return Site(name=name, entries={"100": "p0"}, nodes=[*nodes, Hangup(id="bye")])


def four_s(name: str) -> Site:
    site = load_site(str(Path(__file__).parents[2] / "examples" / "four_s_dealer.py"))
    return dataclasses.replace(without_phones(site), name=name)


@pytest.fixture
def pbx(sandbox: Sandbox) -> Iterator[CliControl]:
    """The sandbox's CLI; afterwards every site a test deployed is taken out again."""
    before = {p.name for p in (sandbox.etc_dir / "callflow").glob("*")}
    yield CliControl(sandbox.asterisk_command())
    for site_dir in (sandbox.etc_dir / "callflow").glob("*"):
        if site_dir.is_dir() and site_dir.name not in before:
            ensure_includes(sandbox.etc_dir, site_dir.name, present=False)
            shutil.rmtree(site_dir)
    for command in RELOAD_COMMANDS:
        sandbox.cli(command)


def dialplan_of(sandbox: Sandbox, site: Site) -> dict[str, str]:
    """`dialplan show` of every context the site compiles to, by context name."""
    return {c.name: sandbox.cli(f"dialplan show {c.name}") for c in compile_site(site).contexts}


def mangled(edit: Callable[[str], str]) -> Callable[[Site], CompiledSite]:
    def compile_and_edit(site: Site) -> CompiledSite:
        compiled = compile_site(site)
        files = {**compiled.files, "extensions.conf": edit(compiled.files["extensions.conf"])}
        return dataclasses.replace(compiled, files=files)

    return compile_and_edit


def test_the_4s_example_deploys_with_every_context_loaded_and_a_clean_log(
    sandbox: Sandbox, pbx: CliControl
) -> None:
    site = four_s("it_star")
    mark = sandbox.log_mark()
    result = deploy(site, sandbox.etc_dir, asterisk=pbx, log_reader=sandbox)
    print(
        f"\n4S deploy+verify: {result.seconds:.3f} s (reload {result.reload_seconds:.3f} s, "
        f"verify {result.verify_seconds:.3f} s incl. the log reader's settle)"
    )

    compiled = compile_site(site)
    for context in compiled.contexts:
        shown = sandbox.cli(f"dialplan show {context.name}")
        assert f"({context.priority_count} priorities) in 1 context" in shown
    for queue in compiled.queues:
        assert sandbox.cli(f"queue show {queue.name}").startswith(f"{queue.name} has 0 calls")
    # the voicemail nodes' three boxes and Wang's own (his extension reaches it)
    assert "4 voicemail users" in sandbox.cli("voicemail show users for callflow-it_star")
    assert sandbox.problems_since(mark) == []

    again = deploy(site, sandbox.etc_dir, asterisk=pbx)
    assert (again.version, again.changed) == (result.version, False)
    changed = deploy(dataclasses.replace(site, label="renamed"), sandbox.etc_dir, asterisk=pbx)
    print(
        f"4S redeploy, no log reader: {changed.seconds:.3f} s "
        f"(reload {changed.reload_seconds:.3f} s, verify {changed.verify_seconds:.3f} s); "
        f"no-op redeploy: {again.seconds:.3f} s"
    )
    assert sandbox.problems_since(mark) == []


def test_a_site_with_errors_is_refused_and_the_running_dialplan_is_untouched(
    sandbox: Sandbox, pbx: CliControl
) -> None:
    deploy(tiny("it_refuse", 2), sandbox.etc_dir, asterisk=pbx)
    before = sandbox.cli("dialplan show")
    files_before = sorted(p for p in sandbox.etc_dir.rglob("*"))
    broken = Site(name="it_refuse", entries={"100": "nowhere"}, nodes=[Hangup(id="bye")])

    with pytest.raises(DeployRefused, match=r"unknown target 'nowhere' \[CF101\]"):
        deploy(broken, sandbox.etc_dir, asterisk=pbx)

    assert sandbox.cli("dialplan show") == before
    assert sorted(p for p in sandbox.etc_dir.rglob("*")) == files_before


def test_a_version_asterisk_cannot_parse_is_rolled_back_automatically(
    sandbox: Sandbox, pbx: CliControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    v1 = deploy(tiny("it_reject", 2), sandbox.etc_dir, asterisk=pbx)
    running = dialplan_of(sandbox, tiny("it_reject", 2))
    mark = sandbox.log_mark()

    # An unclosed section header: Asterisk stops parsing the file there, silently
    # losing every context after it, and logs a warning.
    monkeypatch.setattr(
        callflow.deploy.journal,
        "compile_site",
        mangled(lambda text: text.replace("[cf-it_reject-p0]", "[cf-it_reject-p0")),
    )
    with pytest.raises(DeployError) as failed:
        deploy(tiny("it_reject", 3), sandbox.etc_dir, asterisk=pbx, log_reader=sandbox)

    message = str(failed.value)
    print(f"\n{message}")
    assert "context cf-it_reject-p0 is not loaded" in message
    assert "parse error: no closing ']'" in message
    assert f"rolled back to version {v1.version}" in message
    assert "ROLLBACK FAILED" not in message
    assert dialplan_of(sandbox, tiny("it_reject", 2)) == running
    assert "There is no existence" in sandbox.cli("dialplan show cf-it_reject-p2")
    assert SiteTree(sandbox.etc_dir, "it_reject").current() == v1.version
    assert len(sandbox.problems_since(mark)) == 1  # the rejected version's warning only


def test_a_rejected_first_deploy_leaves_the_pbx_as_it_was(
    sandbox: Sandbox, pbx: CliControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    extensions = (sandbox.etc_dir / "extensions.conf").read_text()
    before = from_files(sandbox.cli("dialplan show"))
    monkeypatch.setattr(
        callflow.deploy.journal,
        "compile_site",
        mangled(lambda text: text.replace("exten => s,3,Playback", "exten => s,Playback")),
    )
    with pytest.raises(DeployError, match="rolled back to no version"):
        deploy(tiny("it_first", 2), sandbox.etc_dir, asterisk=pbx)
    assert (sandbox.etc_dir / "extensions.conf").read_text() == extensions
    assert from_files(sandbox.cli("dialplan show")) == before


def from_files(shown: str) -> list[str]:
    """The contexts of ``dialplan show`` that come from configuration files: a context
    another test on this worker's sandbox adds at run time (``dialplan add extension``,
    its lines marked ``[pbx_config]``) lives until the next reload, which a deploy does."""
    text = "\n".join(line for line in shown.splitlines() if not line.startswith("-= "))
    blocks = text.split("[ Context ")  # the totals line above counts the others too
    return [b for b in blocks if ".conf:" in b or "[pbx_config]" not in b]


def test_rollback_after_a_change_restores_the_previous_dialplan(
    sandbox: Sandbox, pbx: CliControl
) -> None:
    v1 = deploy(tiny("it_undo", 2), sandbox.etc_dir, asterisk=pbx)
    first = dialplan_of(sandbox, tiny("it_undo", 2))
    v2 = deploy(tiny("it_undo", 3), sandbox.etc_dir, asterisk=pbx)
    assert v2.previous == v1.version
    assert "(4 priorities)" in sandbox.cli("dialplan show cf-it_undo-p2")  # Answer() too
    assert dialplan_of(sandbox, tiny("it_undo", 2)) != first  # p1 now goes to p2

    back = rollback("it_undo", sandbox.etc_dir, asterisk=pbx, log_reader=sandbox)

    assert (back.version, back.previous, back.rolled_back) == (v1.version, v2.version, True)
    assert dialplan_of(sandbox, tiny("it_undo", 2)) == first
    assert "There is no existence" in sandbox.cli("dialplan show cf-it_undo-p2")


def test_deploying_to_a_directory_the_running_asterisk_does_not_read_is_refused(
    sandbox: Sandbox, pbx: CliControl, tmp_path: Path
) -> None:
    wrong = tmp_path / "etc"
    wrong.mkdir()
    (wrong / "extensions.conf").write_text("[general]\n")
    before = sandbox.cli("dialplan show")

    with pytest.raises(DeployError, match=rf"{wrong} is not the configuration directory"):
        deploy(tiny("it_wrong", 2), wrong, asterisk=pbx)
    with pytest.raises(DeployError, match="is not the configuration directory"):
        rollback("it_wrong", wrong, asterisk=pbx)

    assert sorted(p.name for p in wrong.iterdir()) == ["extensions.conf"]  # no lock, no files
    assert (wrong / "extensions.conf").read_text() == "[general]\n"
    assert sandbox.cli("dialplan show") == before


def test_deploy_reads_back_the_version_marker_from_asterisk(
    sandbox: Sandbox, pbx: CliControl
) -> None:
    v1 = deploy(tiny("it_marker", 2), sandbox.etc_dir, asterisk=pbx)
    tree = SiteTree(sandbox.etc_dir, "it_marker")
    shown = sandbox.cli("dialplan show callflow-version-it_marker")
    assert f"NoOp(callflow {v1.version} {tree.manifest(v1.version).hash})" in shown

    # Asterisk runs something else under the same context names (a hand-edited file that
    # someone reloaded): same contexts and counts, but not these bytes. Not "unchanged".
    current = tree.files(v1.version)["extensions.conf"]
    original = current.read_text()
    current.write_text(original.replace(v1.version, "0001-000000000000"))
    sandbox.cli("dialplan reload")
    current.write_text(original)
    again = deploy(tiny("it_marker", 2), sandbox.etc_dir, asterisk=pbx)
    assert (again.version, again.changed, again.reloaded) == (v1.version, False, True)
    assert v1.version in sandbox.cli("dialplan show callflow-version-it_marker")


def test_a_hand_edited_current_version_is_replaced_by_a_fresh_one(
    sandbox: Sandbox, pbx: CliControl
) -> None:
    v1 = deploy(tiny("it_drift", 2), sandbox.etc_dir, asterisk=pbx)
    edited = SiteTree(sandbox.etc_dir, "it_drift").files(v1.version)["extensions.conf"]
    edited.write_text(edited.read_text().replace("Playback(hello-world)", "Playback(beep)"))

    again = deploy(tiny("it_drift", 2), sandbox.etc_dir, asterisk=pbx)

    assert again.changed and again.edited == ("extensions.conf",)
    assert again.version.startswith("0002-") and again.version[5:] == v1.version[5:]
    assert "Playback(hello-world)" in sandbox.cli("dialplan show cf-it_drift-p0")


def test_a_rollback_onto_a_context_the_pbx_owns_is_refused_before_writing(
    sandbox: Sandbox, pbx: CliControl
) -> None:
    deploy(tiny("it_clash", 3), sandbox.etc_dir, asterisk=pbx)
    v2 = deploy(tiny("it_clash", 2), sandbox.etc_dir, asterisk=pbx)  # drops cf-it_clash-p2
    own = sandbox.etc_dir / "pbx_own.conf"
    own.write_text("[cf-it_clash-p2]\nexten => s,1,NoOp(the PBX's own)\n")
    main = sandbox.etc_dir / "extensions.conf"
    original = main.read_text()
    main.write_text(original.replace("[cf-test-dial]", '#include "pbx_own.conf"\n\n[cf-test-dial]'))
    try:
        sandbox.cli("dialplan reload")
        files_before = sorted(p for p in sandbox.etc_dir.rglob("*"))
        with pytest.raises(DeployError, match=r"refused, nothing was changed.*cf-it_clash-p2"):
            rollback("it_clash", sandbox.etc_dir, asterisk=pbx)
        assert sorted(p for p in sandbox.etc_dir.rglob("*")) == files_before
        assert SiteTree(sandbox.etc_dir, "it_clash").current() == v2.version
        assert "NoOp(the PBX's own)" in sandbox.cli("dialplan show cf-it_clash-p2")
    finally:
        main.write_text(original)
        own.unlink()
        sandbox.cli("dialplan reload")


async def test_a_live_calls_warning_during_verify_does_not_fail_a_good_deploy(
    sandbox: Sandbox, pbx: CliControl, driver: CallDriver, tmp_path: Path
) -> None:
    noisy = Site(
        name="it_noisy",
        entries={"100": "p"},
        nodes=[Play(id="p", prompts="cf-no-such-prompt", next="bye"), Hangup(id="bye")],
    )
    deploy(noisy, sandbox.etc_dir, asterisk=pbx)
    slow = tmp_path / "slow-asterisk"  # a slow verify: calls warn while it runs
    slow.write_text(f'#!/bin/sh\nsleep 0.4\nexec {shlex.join(sandbox.asterisk_command())} "$@"\n')
    slow.chmod(0o755)
    mark = sandbox.log_mark()

    done = asyncio.ensure_future(
        asyncio.to_thread(
            deploy, tiny("it_calm", 2), sandbox.etc_dir, asterisk=CliControl([str(slow)]),
            log_reader=sandbox,
        )
    )  # fmt: skip
    calls = []
    while not done.done():
        # the caller's line is up before the site's first step (the harness answers it):
        # hold long enough for a starved site leg to reach its hang-up handler
        calls.append(await driver.start_call("cf-it_noisy-entry", "100", prewait=0, hold=2))
        await asyncio.sleep(0.2)
    result = await done
    for call in calls:
        await call.wait_end(timeout=15)

    assert result.changed and result.version.startswith("0001-")
    assert v_runs(sandbox, "it_calm", result.version)
    call_warnings = [line for line in sandbox.problems_since(mark) if "cf-no-such-prompt" in line]
    print(f"\n{len(calls)} calls during the deploy; their warnings: {call_warnings[:2]}")
    assert len(call_warnings) >= 3  # the calls really warned while the deploy ran
    assert all("[C-" in line for line in call_warnings)  # and carry their call id

    # the same log reader still fails a version whose reload itself warns
    broken = dataclasses.replace(tiny("it_calm", 3), label="x")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            callflow.deploy.journal,
            "compile_site",
            mangled(lambda text: text.replace("[cf-it_calm-p0]", "[cf-it_calm-p0")),
        )
        with pytest.raises(DeployError, match=r"Asterisk logged: .*no closing"):
            deploy(broken, sandbox.etc_dir, asterisk=pbx, log_reader=sandbox)
    assert v_runs(sandbox, "it_calm", result.version)


def v_runs(sandbox: Sandbox, site: str, version: str) -> bool:
    return f"NoOp(callflow {version} " in sandbox.cli(f"dialplan show callflow-version-{site}")
