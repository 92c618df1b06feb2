"""deploy.py against a fake Asterisk that loads what is on disk the way Asterisk does:
main files, their #include lines, the `current` symlink. Real Asterisk: tests/integration."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import callflow.deploy
import callflow.deploy.journal
import callflow.deploy.versions
from callflow import Hangup, Play, Site, compile_site
from callflow.compiler import FILES, CompiledSite
from callflow.compiler.secrets import env_name
from callflow.deploy import (
    CliControl,
    DeployRefused,
    Journal,
    LogReader,
    Manifest,
    Pending,
    SiteTree,
    deploy,
    diff,
    include_line,
    rollback,
    verify,
)
from callflow.errors import DeployError
from callflow.loader import load_site

INCLUDE = re.compile(r'#include "(.+)"')
SECTION = re.compile(r"\[([^\]]+)\]")


def tiny(plays: int = 2, name: str = "tiny") -> Site:
    """A valid site whose context count grows with ``plays`` (p0 -> p1 -> ... -> bye)."""
    nodes = [
        Play(id=f"p{i}", prompts="hello-world", next=f"p{i + 1}" if i + 1 < plays else "bye")
        for i in range(plays)
    ]
    return Site(name=name, entries={"100": "p0"}, nodes=[*nodes, Hangup(id="bye")])


def four_s() -> Site:
    return load_site(str(Path(__file__).parents[2] / "examples" / "four_s_dealer.py"))


class FakeAsterisk:
    """Reloads read the main config files (following #include, relative to etc_dir);
    `dialplan show`, `queue show` and `voicemail show users for` answer in Asterisk's
    words. ``keep_dropped`` makes reloads forget to remove contexts, as a broken
    Asterisk would."""

    def __init__(self, etc_dir: Path, *, keep_dropped: bool = False) -> None:
        self.etc_dir = etc_dir
        self.keep_dropped = keep_dropped
        self.commands: list[str] = []
        self.contexts: dict[str, dict[str, list[str]]] = {}  # context -> extension -> apps
        self.queues: dict[str, list[str]] = {}  # queue -> member interfaces
        self.mailboxes: dict[str, set[str]] = {}
        self.endpoints: set[str] = set()
        self.moh: set[str] = set()

    def cli(self, command: str) -> str:
        self.commands.append(command)
        if command == "core show settings":
            return f"* Directories\n  Configuration directory:     {self.etc_dir}\n"
        if command == "dialplan reload":
            loaded = self._dialplan()
            self.contexts = {**self.contexts, **loaded} if self.keep_dropped else loaded
            return "Dialplan reloaded.\n"
        if command == "module reload app_queue.so":
            self.queues = {
                name: [
                    line.split("=>")[1].split(",")[0].strip() for line in lines if "member" in line
                ]
                for name, lines in self._sections("queues.conf")
                if name != "general"
            }
            return "Module 'app_queue.so' reloaded successfully.\n"
        if command == "module reload res_pjsip.so":
            self.endpoints = {
                name for name, lines in self._sections("pjsip.conf") if "type = endpoint" in lines
            }
            return "Module 'res_pjsip.so' reloaded successfully.\n"
        if command == "moh reload":
            self.moh = {name for name, _ in self._sections("musiconhold.conf")}
            return ""
        if command == "pjsip show endpoints":
            return "".join(
                f" Endpoint:  {e}/{e}   Unavailable   0 of inf\n" for e in self.endpoints
            )
        if command == "moh show classes":
            return "".join(f"Class: {c}\nMode: files\n" for c in sorted(self.moh))
        if command.startswith("indication show "):
            zone = command.removeprefix("indication show ")
            return f"Country   Description\n{zone}   test zone\n"
        if command == "voicemail reload":
            self.mailboxes = {}
            for name, lines in self._sections("voicemail.conf"):
                numbers = {line.split("=>")[0].strip() for line in lines if "=>" in line}
                self.mailboxes[name] = numbers
            return "Reloading voicemail configuration...\n"
        if command == "dialplan show":
            return self._show_all()
        if command.startswith("dialplan show "):
            name = command.removeprefix("dialplan show ")
            if name not in self.contexts:
                return f"There is no existence of '{name}' context\n"
            exts = self.contexts[name]
            return (
                f"[ Context '{name}' created by 'pbx_config' ]\n\n"
                f"-= {len(exts)} extensions ({sum(map(len, exts.values()))} priorities) "
                "in 1 context. =-\n"
            )
        if command == "queue show":
            return "".join(
                f"{name} has 0 calls (max unlimited) in 'ringall' strategy\n"
                + ("   Members: \n" if members else "   No Members\n")
                + "".join(f"      X ({m}) (ringinuse disabled) (Invalid)\n" for m in members)
                + "   No Callers\n\n"
                for name, members in sorted(self.queues.items())
            )
        if command == "voicemail show users":
            rows = [
                f"{context} {number}    0\n"
                for context, numbers in sorted(self.mailboxes.items())
                for number in sorted(numbers)
            ]
            return f"Context    Mbox  User   Zone   NewMsg\n{''.join(rows)}"
        raise AssertionError(f"unexpected command {command!r}")

    def _show_all(self) -> str:
        out = []
        for name, exts in self.contexts.items():
            out.append(f"[ Context '{name}' created by 'pbx_config' ]")
            for ext, apps in exts.items():
                out.append(f"  '{ext}' =>          1. {apps[0]}   [extensions.conf:1]")
                out += [f"                    {n}. {app}" for n, app in enumerate(apps[1:], 2)]
            out.append("")
        total = sum(sum(map(len, e.values())) for e in self.contexts.values())
        exts_total = sum(len(e) for e in self.contexts.values())
        out.append(
            f"-= {exts_total} extensions ({total} priorities) in {len(self.contexts)} contexts. =-"
        )
        return "\n".join(out) + "\n"

    def _lines(self, name: str) -> list[str]:
        main = self.etc_dir / name
        out: list[str] = []
        for line in main.read_text().splitlines() if main.exists() else []:
            found = INCLUDE.fullmatch(line)
            if found:
                included = self.etc_dir / found.group(1)
                out += included.read_text().splitlines() if included.exists() else []
            else:
                out.append(line)
        return out

    def _sections(self, name: str) -> list[tuple[str, list[str]]]:
        sections: list[tuple[str, list[str]]] = []
        for line in self._lines(name):
            header = SECTION.fullmatch(line)
            if header:
                sections.append((header.group(1), []))
            elif sections and line and not line.startswith(";"):
                sections[-1][1].append(line)
        return sections

    def _dialplan(self) -> dict[str, dict[str, list[str]]]:
        contexts: dict[str, dict[str, list[str]]] = {}
        for name, lines in self._sections("extensions.conf"):
            exts: dict[str, list[str]] = {}
            for line in lines:
                if line.startswith("exten =>"):
                    ext, _priority, app = line.removeprefix("exten =>").strip().split(",", 2)
                    exts.setdefault(ext, []).append(app.split(" ;")[0])
            contexts[name] = exts
        return contexts

    def reloads(self) -> int:
        return self.commands.count("dialplan reload")


@pytest.fixture
def etc(tmp_path: Path) -> Path:
    directory = tmp_path / "etc"
    directory.mkdir()
    (directory / "extensions.conf").write_text("[general]\nstatic = yes\n\n[default]\n")
    return directory


@pytest.fixture
def pbx(etc: Path) -> FakeAsterisk:
    return FakeAsterisk(etc)


@pytest.fixture(autouse=True)
def four_s_secrets(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The example's phone and trunk passwords, from the environment as in production."""
    values = {name: f"pw-{name}-0123456789" for name in compile_site(four_s()).secrets}
    for name, value in values.items():
        monkeypatch.setenv(env_name(name), value)
    return values


def mangled(edit: Callable[[str], str]) -> Callable[[Site], CompiledSite]:
    """A compile_site whose extensions.conf is edited after compiling (the IR is not)."""

    def compile_and_edit(site: Site) -> CompiledSite:
        compiled = compile_site(site)
        files = {**compiled.files, "extensions.conf": edit(compiled.files["extensions.conf"])}
        return dataclasses.replace(compiled, files=files)

    return compile_and_edit


def drop_line(pattern: str) -> Callable[[str], str]:
    return lambda text: "".join(
        line for line in text.splitlines(keepends=True) if not line.startswith(pattern)
    )


# --------------------------------------------------------------------------- layout


def test_a_deploy_writes_a_numbered_version_and_points_current_at_it(
    etc: Path, pbx: FakeAsterisk, four_s_secrets: dict[str, str]
) -> None:
    site = four_s()
    compiled = compile_site(site, four_s_secrets)  # deploy filled in the passwords
    result = deploy(site, etc, asterisk=pbx)

    root = etc / "callflow" / "star_motors"
    assert re.fullmatch(r"0001-[0-9a-f]{12}", result.version)
    version_dir = root / "versions" / result.version
    assert sorted(p.name for p in version_dir.iterdir()) == sorted([*FILES, "manifest.json"])
    manifest = json.loads((version_dir / "manifest.json").read_text())
    marker = (
        "\n; callflow deploy: the version marker (read back from Asterisk by deploy)\n"
        "[callflow-version-star_motors]\n"
        f"exten => s,1,NoOp(callflow {result.version} {manifest['hash']})\n"
    )
    written = {**compiled.files, "extensions.conf": compiled.files["extensions.conf"] + marker}
    for name in FILES:
        assert (version_dir / name).read_text() == written[name]
        assert (root / "current" / name).read_text() == written[name]
        assert manifest["files"][name] == hashlib.sha256(written[name].encode()).hexdigest()
        mode = 0o600 if name == "pjsip.conf" else 0o644  # passwords: the owner only
        assert (version_dir / name).stat().st_mode & 0o777 == mode
    assert version_dir.stat().st_mode & 0o777 == 0o755
    assert os.readlink(root / "current") == f"versions/{result.version}"
    assert json.loads((root / "journal.json").read_text()) == {
        "verified": result.version,
        "pending": None,
    }

    assert manifest["site"] == "star_motors"
    assert manifest["version"] == result.version
    assert manifest["hash"].startswith(result.version.split("-")[1])
    assert manifest["previous"] is None
    assert manifest["contexts"] == {c.name: c.priority_count for c in compiled.contexts}
    assert manifest["contexts"]["cf-star_motors-main"] == 16  # with its Answer()
    assert manifest["queues"] == [q.name for q in compiled.queues]
    # the voicemail nodes' boxes and Wang's own (his extension reaches it)
    assert manifest["mailboxes"] == {"callflow-star_motors": ["2000", "2001", "3000", "4000"]}
    assert manifest["endpoints"] == [*compiled.endpoints]
    assert "callflow-star_motors-carrier" in manifest["endpoints"]
    assert manifest["moh_classes"] == ["callflow-star_motors-default"]
    assert manifest["tone_zone"] == "cn"
    assert manifest["created"].endswith("+00:00")

    assert result.previous is None and result.changed and not result.rolled_back
    assert result.files == {name: version_dir / name for name in FILES}
    assert pbx.commands[:2] == ["core show settings", "dialplan show"]  # right dir? collisions?
    assert pbx.commands[2:7] == [
        "module reload res_pjsip.so",
        "moh reload",
        "dialplan reload",
        "module reload app_queue.so",
        "voicemail reload",
    ]
    assert pbx.commands[7:] == [
        "dialplan show",
        "queue show",
        "pjsip show endpoints",
        "moh show classes",
        "indication show cn",
        "voicemail show users",
    ]
    assert pbx.contexts["callflow-version-star_motors"] == {
        "s": [f"NoOp(callflow {result.version} {manifest['hash']})"]
    }
    assert result.seconds >= result.reload_seconds + result.verify_seconds


def test_current_is_switched_by_renaming_a_new_link_over_it(
    etc: Path, pbx: FakeAsterisk, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = deploy(tiny(2), etc, asterisk=pbx)
    replaced: list[tuple[str, str, str]] = []
    real_replace = os.replace

    def spy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst).name == "current":
            replaced.append((Path(src).name, Path(dst).name, os.readlink(src)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    second = deploy(tiny(3), etc, asterisk=pbx)

    assert second.version.startswith("0002-") and second.previous == first.version
    assert len(replaced) == 1
    temp, target, points_to = replaced[0]
    assert temp.startswith(".callflow-tmp.current") and target == "current"
    assert points_to == f"versions/{second.version}"
    root = etc / "callflow" / "tiny"
    assert sorted(p.name for p in root.iterdir()) == ["current", "journal.json", "versions"]


def test_include_lines_are_added_once_and_the_main_files_keep_their_content(
    etc: Path, pbx: FakeAsterisk
) -> None:
    for plays in (2, 3, 2):
        deploy(tiny(plays), etc, asterisk=pbx)
    deploy(tiny(2, name="other"), etc, asterisk=pbx)

    extensions = (etc / "extensions.conf").read_text().splitlines()
    assert extensions == [
        "[general]",
        "static = yes",
        "",
        "[default]",
        '#include "callflow/tiny/current/extensions.conf"',
        '#include "callflow/other/current/extensions.conf"',
    ]
    for name in ("queues.conf", "voicemail.conf"):  # were absent: created with a header
        lines = (etc / name).read_text().splitlines()
        assert lines[0].startswith("; Created by callflow deploy")
        assert lines[1:] == [include_line("tiny", name), include_line("other", name)]


def test_a_duplicated_include_line_is_collapsed_to_one(etc: Path, pbx: FakeAsterisk) -> None:
    line = include_line("tiny", "extensions.conf")
    (etc / "extensions.conf").write_text(f"[general]\n{line}\n{line}\n")
    deploy(tiny(2), etc, asterisk=pbx)
    assert (etc / "extensions.conf").read_text() == f"[general]\n{line}\n"


def test_old_versions_are_pruned_to_keep(etc: Path, pbx: FakeAsterisk) -> None:
    versions = [deploy(tiny(n), etc, asterisk=pbx, keep=2).version for n in range(1, 6)]
    tree = SiteTree(etc, "tiny")
    assert tree.versions() == versions[-2:]
    assert [v[:4] for v in versions] == ["0001", "0002", "0003", "0004", "0005"]


def test_pruning_never_deletes_current_or_the_version_before_it(
    etc: Path, pbx: FakeAsterisk
) -> None:
    v = [deploy(tiny(n), etc, asterisk=pbx, keep=2).version for n in (1, 2, 3, 4)]
    back = rollback("tiny", etc, asterisk=pbx)  # current: v3, whose previous is v2
    assert back.version == v[2]
    v5 = deploy(tiny(5), etc, asterisk=pbx, keep=2).version  # previous: v3
    tree = SiteTree(etc, "tiny")
    assert tree.versions() == [v[2], v[3], v5]
    assert tree.current() == v5
    assert tree.manifest(v5).previous == v[2]


def test_keep_below_one_is_refused(etc: Path, pbx: FakeAsterisk) -> None:
    with pytest.raises(ValueError, match="keep must be at least 1"):
        deploy(tiny(2), etc, asterisk=pbx, keep=0)
    assert not (etc / "callflow").exists()


# --------------------------------------------------------------------------- no-op and refusal


def test_deploying_the_current_site_again_writes_nothing_but_still_verifies(
    etc: Path, pbx: FakeAsterisk
) -> None:
    first = deploy(tiny(2), etc, asterisk=pbx)
    pbx.commands.clear()
    mtime = (etc / "extensions.conf").stat().st_mtime_ns
    again = deploy(tiny(2), etc, asterisk=pbx)

    assert (again.version, again.previous, again.changed) == (first.version, None, False)
    assert again.reload_seconds == 0.0
    assert pbx.reloads() == 0
    assert pbx.commands == ["core show settings", "dialplan show"]  # tiny: no queues, mailboxes
    assert not again.reloaded
    assert SiteTree(etc, "tiny").versions() == [first.version]
    assert (etc / "extensions.conf").stat().st_mtime_ns == mtime


def test_a_noop_deploy_reloads_when_asterisk_does_not_run_the_current_version(
    etc: Path, pbx: FakeAsterisk
) -> None:
    first = deploy(tiny(2), etc, asterisk=pbx)
    pbx.contexts.pop("cf-tiny-p1")  # e.g. someone reloaded a hand-edited dialplan
    again = deploy(tiny(2), etc, asterisk=pbx)
    assert (again.version, again.changed, again.reloaded) == (first.version, False, True)
    assert "cf-tiny-p1" in pbx.contexts


def test_a_noop_deploy_fails_loudly_when_asterisk_will_not_run_the_current_version(
    etc: Path, pbx: FakeAsterisk
) -> None:
    deploy(tiny(2), etc, asterisk=pbx)

    class Forgets(FakeAsterisk):
        def cli(self, command: str) -> str:
            out = super().cli(command)
            self.contexts.pop("cf-tiny-p1", None)
            return out

    with pytest.raises(DeployError, match=r"already current.*\n  - context cf-tiny-p1 is not"):
        deploy(tiny(2), etc, asterisk=Forgets(etc))


def test_a_noop_deploy_of_a_version_asterisk_runs_without_its_marker_is_not_unchanged(
    etc: Path, pbx: FakeAsterisk
) -> None:
    """Same contexts, same counts, but not these bytes: the marker tells."""
    first = deploy(tiny(2), etc, asterisk=pbx)
    pbx.contexts["callflow-version-tiny"] = {"s": ["NoOp(callflow 0001-000000000000 0)"]}
    again = deploy(tiny(2), etc, asterisk=pbx)
    assert (again.version, again.reloaded) == (first.version, True)


def test_a_noop_deploy_puts_back_a_removed_include_line_and_reloads(
    etc: Path, pbx: FakeAsterisk
) -> None:
    deploy(tiny(2), etc, asterisk=pbx)
    (etc / "extensions.conf").write_text("[general]\n")
    pbx.cli("dialplan reload")
    again = deploy(tiny(2), etc, asterisk=pbx)
    assert not again.changed
    assert (etc / "extensions.conf").read_text().count("callflow/tiny/current") == 1
    assert "cf-tiny-p1" in pbx.contexts


def test_a_site_with_errors_is_refused_before_anything_is_written(
    etc: Path, pbx: FakeAsterisk
) -> None:
    broken = Site(name="Bad Name", entries={"100": "nowhere"}, nodes=[Hangup(id="bye")])
    before = sorted(p.name for p in etc.iterdir())
    with pytest.raises(DeployRefused) as refused:
        deploy(broken, etc, asterisk=pbx)

    assert {"CF101", "CF103"} <= {d.code for d in refused.value.diagnostics}
    assert "refused, nothing was changed" in str(refused.value)
    assert "unknown target 'nowhere' [CF101]" in str(refused.value)
    assert isinstance(refused.value, DeployError)
    assert sorted(p.name for p in etc.iterdir()) == before
    assert pbx.commands == []


# --------------------------------------------------------------------------- failed verification


def test_a_version_asterisk_loads_short_of_priorities_is_rolled_back(
    etc: Path, pbx: FakeAsterisk, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = deploy(tiny(2), etc, asterisk=pbx)
    monkeypatch.setattr(
        callflow.deploy.journal, "compile_site", mangled(drop_line("exten => s,2,"))
    )
    with pytest.raises(DeployError) as failed:
        deploy(tiny(3), etc, asterisk=pbx)

    message = str(failed.value)
    assert "failed verification" in message
    assert "context cf-tiny-p2 has 3 priorities, expected 4" in message
    assert f"rolled back to version {good.version}" in message
    tree = SiteTree(etc, "tiny")
    assert tree.current() == good.version
    assert tree.versions() == [good.version]
    rejected = next((tree.root / "failed").iterdir())
    assert rejected.name.startswith("0002-") and str(rejected) in message
    assert len(pbx.contexts["cf-tiny-p1"]["s"]) == 4
    assert "cf-tiny-p2" not in pbx.contexts  # the rollback reload dropped it again
    assert pbx.reloads() == 3


def test_a_failed_first_deploy_takes_the_include_lines_out_again(
    etc: Path, pbx: FakeAsterisk, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = (etc / "extensions.conf").read_text()
    monkeypatch.setattr(
        callflow.deploy.journal, "compile_site", mangled(drop_line("[cf-tiny-hooks]"))
    )
    with pytest.raises(DeployError, match=r"rolled back to no version"):
        deploy(tiny(2), etc, asterisk=pbx)

    assert (etc / "extensions.conf").read_text() == before
    assert not (etc / "queues.conf").exists()  # deploy created it, and removed it again
    assert SiteTree(etc, "tiny").current() is None
    assert [c for c in pbx.contexts if c.startswith("cf-tiny")] == []


def test_contexts_the_site_dropped_must_be_gone_after_the_reload(etc: Path) -> None:
    pbx = FakeAsterisk(etc, keep_dropped=True)
    three = deploy(tiny(3), etc, asterisk=pbx)
    with pytest.raises(DeployError, match="context cf-tiny-p2 was dropped but is still loaded"):
        deploy(tiny(2), etc, asterisk=pbx)
    assert SiteTree(etc, "tiny").current() == three.version


def test_new_warnings_in_the_log_fail_the_deploy(etc: Path, pbx: FakeAsterisk) -> None:
    log = etc / "messages"
    log.write_text("[old] WARNING[1] something from before the deploy\n")

    class WarnsOnReload(FakeAsterisk):
        def cli(self, command: str) -> str:
            if command == "dialplan reload" and "0002-" in os.readlink(
                etc / "callflow/tiny/current"
            ):
                with log.open("a") as out:
                    out.write("[now] WARNING[2] pbx_config.c: Invalid priority/label\n")
            return super().cli(command)

    pbx = WarnsOnReload(etc)
    first = deploy(tiny(2), etc, asterisk=pbx, log_reader=LogReader(log, settle=0))
    with pytest.raises(DeployError) as failed:
        deploy(tiny(3), etc, asterisk=pbx, log_reader=LogReader(log, settle=0))
    assert "Asterisk logged: [now] WARNING[2] pbx_config.c: Invalid priority" in str(failed.value)
    assert "something from before" not in str(failed.value)
    assert "ROLLBACK FAILED" not in str(failed.value)
    assert SiteTree(etc, "tiny").current() == first.version


def test_an_asterisk_that_stops_answering_fails_the_deploy_and_the_next_run_goes_back(
    etc: Path, pbx: FakeAsterisk
) -> None:
    first = deploy(tiny(2), etc, asterisk=pbx)

    class Down(FakeAsterisk):
        def cli(self, command: str) -> str:
            if "reload" in command:
                raise DeployError("Unable to connect to remote asterisk")
            return super().cli(command)

    with pytest.raises(DeployError) as failed:
        deploy(tiny(3), etc, asterisk=Down(etc))
    message = str(failed.value)
    assert "reload failed: Unable to connect" in message
    assert f"GOING BACK TO version {first.version} FAILED VERIFICATION TOO" in message
    tree = SiteTree(etc, "tiny")
    assert tree.current() == first.version  # switched back on disk ...
    pending = tree.journal().pending  # ... but not verified: still pending
    assert pending is not None and pending.source == first.version

    pbx.commands.clear()
    result = deploy(tiny(3), etc, asterisk=pbx)  # Asterisk is back
    assert result.recovered is not None and "undid an interrupted deploy" in result.recovered
    assert result.changed and result.version.startswith("0003-")
    assert pbx.commands.count("dialplan reload") == 2  # going back, then the deploy
    assert tree.journal() == Journal(verified=result.version)


# --------------------------------------------------------------------------- verify

# What Asterisk 22 printed for a context with a hint, labels, an include, a switch and an
# ignore pattern, and for one of the sandbox's contexts (captured from the sandbox).
DIALPLAN_SHOW = """\
[ Context 'hints' created by 'pbx_config' ]
  '100' =>          hint: PJSIP/100                               [h.conf:2]
                    1. NoOp()                                     [h.conf:3]
  '_X.' =>          1. NoOp(a,b)                                  [h.conf:4]
     [lab]          2. NoOp()                                     [h.conf:5]
  Include =>        'cf-test-busy'                                [pbx_config]
  Ignore pattern => '9'                                           [pbx_config]
  Alt. Switch =>    'Loopback/foo'                                [pbx_config]

[ Context 'cf-test-busy' created by 'pbx_config' ]
  '_[0-9a-z].' =>   1. Busy(5)                                    [extensions.conf:42]

-= 3 extensions (5 priorities) in 2 contexts. =-
"""


class Scripted:
    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers
        self.commands: list[str] = []

    def cli(self, command: str) -> str:
        self.commands.append(command)
        return self.answers[command]


def manifest(contexts: dict[str, int]) -> Manifest:
    return Manifest("s", "0001-000000000000", "0" * 64, "", None, contexts, (), {})


def test_verify_counts_priorities_of_every_context_from_one_dialplan_show() -> None:
    pbx = Scripted({"dialplan show": DIALPLAN_SHOW})
    assert verify(pbx, manifest({"hints": 4, "cf-test-busy": 1})) == []
    assert verify(pbx, manifest({"hints": 3, "gone": 1}), gone=["cf-test-busy"]) == [
        "context hints has 4 priorities, expected 3",
        "context gone is not loaded",
        "context cf-test-busy was dropped but is still loaded",
    ]
    assert set(pbx.commands) == {"dialplan show"}


def test_verify_asks_context_by_context_when_the_listing_does_not_add_up() -> None:
    pbx = Scripted(
        {
            "dialplan show": DIALPLAN_SHOW.replace("(5 priorities)", "(6 priorities)"),
            "dialplan show hints": "-= 2 extensions (6 priorities) in 1 context. =-\n",
            "dialplan show nope": "There is no existence of 'nope' context\n",
            "dialplan show callflow-version-s": "There is no existence of it\n",
        }
    )
    assert verify(pbx, manifest({"hints": 6, "nope": 1})) == ["context nope is not loaded"]
    assert pbx.commands == [
        "dialplan show",
        "dialplan show hints",
        "dialplan show nope",
        "dialplan show callflow-version-s",
    ]


# --------------------------------------------------------------------------- rollback


def test_rollback_walks_back_through_what_was_deployed(etc: Path, pbx: FakeAsterisk) -> None:
    v1, v2, v3 = (deploy(tiny(n), etc, asterisk=pbx).version for n in (1, 2, 3))

    back = rollback("tiny", etc, asterisk=pbx)
    assert (back.version, back.previous, back.rolled_back) == (v2, v3, True)
    assert "cf-tiny-p2" not in pbx.contexts and "cf-tiny-p1" in pbx.contexts
    assert rollback("tiny", etc, asterisk=pbx).version == v1
    assert "cf-tiny-p1" not in pbx.contexts
    with pytest.raises(DeployError, match="no previous version"):
        rollback("tiny", etc, asterisk=pbx)
    assert SiteTree(etc, "tiny").current() == v1


def test_rollback_after_a_rollback_and_a_deploy_returns_to_what_ran_before(
    etc: Path, pbx: FakeAsterisk
) -> None:
    v1 = deploy(tiny(1), etc, asterisk=pbx).version
    deploy(tiny(2), etc, asterisk=pbx)
    rollback("tiny", etc, asterisk=pbx)
    v3 = deploy(tiny(3), etc, asterisk=pbx)
    assert v3.previous == v1
    assert rollback("tiny", etc, asterisk=pbx).version == v1  # not v2, which was undone


def test_rollback_of_a_site_never_deployed_is_an_error(etc: Path, pbx: FakeAsterisk) -> None:
    with pytest.raises(DeployError, match="'tiny' is not deployed"):
        rollback("tiny", etc, asterisk=pbx)


def test_a_rollback_that_does_not_verify_restores_the_current_version(
    etc: Path, pbx: FakeAsterisk
) -> None:
    v1 = deploy(tiny(2), etc, asterisk=pbx).version
    v2 = deploy(tiny(3), etc, asterisk=pbx).version

    class BreaksV1(FakeAsterisk):
        def cli(self, command: str) -> str:
            out = super().cli(command)
            if command == "dialplan reload" and v1 in os.readlink(etc / "callflow/tiny/current"):
                self.contexts["cf-tiny-p1"]["s"].pop()
            return out

    broken = BreaksV1(etc)
    broken.cli("dialplan reload")
    with pytest.raises(DeployError, match=rf"failed verification(.|\n)*{v2} is current again"):
        rollback("tiny", etc, asterisk=broken)
    tree = SiteTree(etc, "tiny")
    assert tree.current() == v2 and tree.journal() == Journal(verified=v2)
    assert broken.contexts["cf-tiny-p2"] == {
        "s": [
            "Set(CF_TRACE=${CF_TRACE} p2)",
            "Answer()",
            "Playback(hello-world)",
            "Goto(cf-tiny-bye,s,1)",
        ]
    }


def test_rollback_to_a_hand_edited_version_is_refused_before_anything_changes(
    etc: Path, pbx: FakeAsterisk
) -> None:
    v1 = deploy(tiny(2), etc, asterisk=pbx).version
    v2 = deploy(tiny(3), etc, asterisk=pbx).version
    tree = SiteTree(etc, "tiny")
    v1_ext = tree.path(v1) / "extensions.conf"
    v1_ext.write_text(v1_ext.read_text().replace("exten => s,3,", "; broken "))
    pbx.commands.clear()
    with pytest.raises(DeployError, match=rf"version {v1} was edited by hand.*extensions.conf"):
        rollback("tiny", etc, asterisk=pbx)
    assert tree.current() == v2
    assert "dialplan reload" not in pbx.commands


# --------------------------------------------------------------------------- diff


def test_diff_shows_what_a_deploy_would_change(etc: Path, pbx: FakeAsterisk) -> None:
    fresh = diff(tiny(1), etc)
    assert "--- a/callflow/tiny/current/extensions.conf (not deployed)" in fresh
    assert "+[cf-tiny-p0]\n" in fresh

    version = deploy(tiny(1), etc, asterisk=pbx).version
    assert diff(tiny(1), etc) == ""

    changed = diff(tiny(2), etc)
    assert changed.startswith(
        f"--- a/callflow/tiny/current/extensions.conf ({version})\n"
        "+++ b/callflow/tiny/current/extensions.conf (compiled)\n"
    )
    assert changed.endswith(
        "@@ -29,4 +29,11 @@\n"
        " exten => s,1,Set(CF_TRACE=${CF_TRACE} p0)\n"
        " exten => s,2,Answer()\n"
        " exten => s,3,Playback(hello-world)\n"
        "+exten => s,4,Goto(cf-tiny-p1,s,1)\n"
        "+\n"
        "+[cf-tiny-p1]\n"
        "+; Play p1\n"
        "+exten => s,1,Set(CF_TRACE=${CF_TRACE} p1)\n"
        "+exten => s,2,Answer()\n"
        "+exten => s,3,Playback(hello-world)\n"
        " exten => s,4,Goto(cf-tiny-bye,s,1)\n"
    )
    assert "queues.conf" not in changed  # identical files add nothing


def test_diff_of_a_broken_site_is_refused(etc: Path) -> None:
    with pytest.raises(DeployRefused, match="CF101"):
        diff(Site(name="tiny", entries={"1": "nowhere"}, nodes=[Hangup(id="bye")]), etc)


# --------------------------------------------------------------------------- CliControl


def test_cli_control_runs_the_prefix_with_rx_and_the_command() -> None:
    echo = CliControl([sys.executable, "-c", "import sys; print(sys.argv[1:])"])
    assert echo.cli("dialplan show x") == "['-rx', 'dialplan show x']\n"


def test_cli_control_turns_failures_into_deploy_errors() -> None:
    failing = CliControl([sys.executable, "-c", "import sys; print('no socket'); sys.exit(1)"])
    with pytest.raises(DeployError, match="exited 1: no socket"):
        failing.cli("dialplan reload")
    slow = CliControl([sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.2)
    with pytest.raises(DeployError, match="timed out"):
        slow.cli("dialplan reload")
    with pytest.raises(DeployError, match="No such file"):
        CliControl(["/nonexistent/asterisk"]).cli("core show version")


# --------------------------------------------------------------------------- the journal


def test_a_config_dir_asterisk_does_not_run_from_is_refused_with_nothing_written(
    etc: Path, tmp_path: Path
) -> None:
    elsewhere = FakeAsterisk(tmp_path)  # reports tmp_path as its configuration directory
    before = sorted(p.name for p in etc.iterdir())
    with pytest.raises(DeployError, match=rf"{etc} is not the configuration directory.*"):
        deploy(tiny(2), etc, asterisk=elsewhere)
    with pytest.raises(DeployError, match="is not the configuration directory"):
        rollback("tiny", etc, asterisk=elsewhere)
    assert sorted(p.name for p in etc.iterdir()) == before
    assert elsewhere.commands == ["core show settings", "core show settings"]


def test_rollback_of_a_site_never_deployed_creates_nothing(etc: Path, pbx: FakeAsterisk) -> None:
    with pytest.raises(DeployError, match="'tiny' is not deployed"):
        rollback("tiny", etc, asterisk=pbx)
    assert not (etc / "callflow").exists()


class Interrupting(FakeAsterisk):
    """Raises ``error`` once, at the first command that starts with ``at``, while
    a site's ``current`` points at a version whose id starts with ``version``."""

    def __init__(self, etc_dir: Path, at: str, error: BaseException, version: str) -> None:
        super().__init__(etc_dir)
        self.at, self.error, self.version = at, error, version
        self.armed = True

    def cli(self, command: str) -> str:
        points = " ".join(map(os.readlink, self.etc_dir.glob("callflow/*/current")))
        if self.armed and command.startswith(self.at) and f"/{self.version}" in points:
            self.armed = False
            raise self.error
        return super().cli(command)


@pytest.mark.parametrize("at", ["dialplan reload", "voicemail reload", "dialplan show"])
def test_ctrl_c_during_reload_or_verify_undoes_the_switch_before_it_ends(
    etc: Path, at: str
) -> None:
    pbx = Interrupting(etc, at, KeyboardInterrupt(), version="0002-")
    first = deploy(tiny(2), etc, asterisk=pbx)
    with pytest.raises(KeyboardInterrupt):
        deploy(tiny(3), etc, asterisk=pbx)
    tree = SiteTree(etc, "tiny")
    assert tree.current() == first.version
    assert tree.journal() == Journal(verified=first.version)
    assert "cf-tiny-p2" not in pbx.contexts and "cf-tiny-p1" in pbx.contexts
    assert [p.name[:5] for p in (tree.root / "failed").iterdir()] == ["0002-"]


def test_an_exception_inside_verify_never_leaves_an_unverified_version_current(
    etc: Path,
) -> None:
    cut = UnicodeDecodeError("utf-8", b"\xe4\xb8", 0, 2, "unexpected end of data")
    pbx = Interrupting(etc, "queue show", cut, version="0002-")
    first = deploy(four_s(), etc, asterisk=pbx)
    with pytest.raises(DeployError, match="verify failed: 'utf-8' codec can't decode"):
        deploy(dataclasses.replace(four_s(), label="changed"), etc, asterisk=pbx)
    tree = SiteTree(etc, "star_motors")
    assert tree.current() == first.version
    assert tree.journal() == Journal(verified=first.version)


def test_a_switch_left_pending_by_a_killed_run_is_undone_before_anything_else(
    etc: Path, pbx: FakeAsterisk
) -> None:
    first = deploy(tiny(2), etc, asterisk=pbx)
    tree = SiteTree(etc, "tiny")
    # what kill -9 between the switch and the end of verify leaves: a pending journal,
    # current on the new version, Asterisk running it (or half of it), temp files around
    killed = tree.add(compile_site(tiny(3)), previous=first.version)
    tree.write_journal(
        Journal(verified=first.version, pending=Pending("deploy", first.version, killed.version))
    )
    tree.switch(killed.version)
    pbx.cli("dialplan reload")
    (tree.root / "versions" / ".callflow-tmp.half-written").mkdir()
    (etc / ".callflow-tmp.extensions.conf.x").write_text("half")

    pbx.commands.clear()
    again = deploy(tiny(2), etc, asterisk=pbx)  # the same site as before: after the undo
    assert (
        again.recovered
        == f"undid an interrupted deploy to {killed.version}; back on {first.version}"
    )
    assert (again.version, again.changed) == (first.version, False)
    assert "cf-tiny-p2" not in pbx.contexts
    assert pbx.commands.count("dialplan reload") == 1
    assert tree.journal() == Journal(verified=first.version)
    assert not list(etc.rglob(".callflow-tmp.*"))
    assert (tree.root / "failed" / killed.version).is_dir()
    assert diff(tiny(2), etc) == ""


def test_diff_compares_with_what_was_verified_not_with_a_pending_switch(
    etc: Path, pbx: FakeAsterisk
) -> None:
    first = deploy(tiny(2), etc, asterisk=pbx)
    tree = SiteTree(etc, "tiny")
    killed = tree.add(compile_site(tiny(3)), previous=first.version)
    tree.write_journal(
        Journal(verified=first.version, pending=Pending("deploy", first.version, killed.version))
    )
    tree.switch(killed.version)
    assert diff(tiny(3), etc) != ""  # the pending version is not what runs
    assert f"({first.version})" in diff(tiny(3), etc)


def test_a_version_deployed_before_the_journal_is_adopted_once_verified(
    etc: Path, pbx: FakeAsterisk
) -> None:
    first = deploy(tiny(2), etc, asterisk=pbx)
    tree = SiteTree(etc, "tiny")
    tree.journal_path.unlink()
    again = deploy(tiny(2), etc, asterisk=pbx)
    assert (again.version, again.changed, again.recovered) == (first.version, False, None)
    assert tree.journal() == Journal(verified=first.version)


def test_a_hand_edited_current_version_is_deployed_afresh_and_reported(
    etc: Path, pbx: FakeAsterisk
) -> None:
    first = deploy(tiny(2), etc, asterisk=pbx)
    edited = SiteTree(etc, "tiny").files(first.version)["queues.conf"]
    edited.write_text(edited.read_text() + "[sneaky]\nstrategy = ringall\n")
    again = deploy(tiny(2), etc, asterisk=pbx)
    assert again.changed and again.edited == ("queues.conf",)
    assert again.version == "0002-" + first.version[5:]
    assert "sneaky" not in pbx.queues


def test_a_context_the_pbx_owns_blocks_a_deploy_before_anything_is_written(
    etc: Path, pbx: FakeAsterisk
) -> None:
    (etc / "extensions.conf").write_text("[general]\n\n[cf-tiny-p1]\nexten => s,1,NoOp()\n")
    pbx.cli("dialplan reload")
    before = sorted(p.name for p in etc.iterdir())
    with pytest.raises(DeployError, match=r"refused, nothing was changed.*cf-tiny-p1.*PBX"):
        deploy(tiny(2), etc, asterisk=pbx)
    assert sorted(p.name for p in etc.iterdir()) == sorted([*before, "callflow"])
    assert not (etc / "callflow" / "tiny" / "versions").exists()


# --------------------------------------------------------------------------- files on disk


def test_files_are_readable_by_another_user_whatever_the_umask(
    etc: Path, pbx: FakeAsterisk
) -> None:
    old = os.umask(0o077)
    try:
        result = deploy(tiny(2), etc, asterisk=pbx)
    finally:
        os.umask(old)
    root = etc / "callflow" / "tiny"
    for directory in (
        etc / "callflow",
        root,
        root / "versions",
        root / "versions" / result.version,
    ):
        assert directory.stat().st_mode & 0o777 == 0o755, directory
    for path in [*result.files.values(), root / "journal.json", etc / "queues.conf"]:
        secret = path.name == "pjsip.conf" and path.parent.name == result.version
        assert path.stat().st_mode & 0o777 == (0o600 if secret else 0o644), path


def test_a_symlinked_main_extensions_conf_stays_a_symlink(
    etc: Path, pbx: FakeAsterisk, tmp_path: Path
) -> None:
    real = tmp_path / "shared" / "extensions.conf"
    real.parent.mkdir()
    real.write_text("[general]\n")
    (etc / "extensions.conf").unlink()
    (etc / "extensions.conf").symlink_to(real)

    deploy(tiny(2), etc, asterisk=pbx)
    assert (etc / "extensions.conf").is_symlink()
    assert real.read_text() == f"[general]\n{include_line('tiny', 'extensions.conf')}\n"
    assert "cf-tiny-p1" in pbx.contexts


def test_a_full_disk_is_one_clear_error_and_leaves_no_staging_behind(
    etc: Path, pbx: FakeAsterisk, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = deploy(tiny(2), etc, asterisk=pbx)

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(callflow.deploy.versions.os, "fsync", full)
    with pytest.raises(DeployError, match=r"cannot write in .*No space left on device"):
        deploy(tiny(3), etc, asterisk=pbx)
    monkeypatch.undo()
    tree = SiteTree(etc, "tiny")
    assert tree.versions() == [first.version] and tree.current() == first.version
    assert not list(etc.rglob(".callflow-tmp*"))


# --------------------------------------------------------------------------- reading Asterisk


def test_only_the_lines_the_reload_logged_count_against_a_deploy() -> None:
    logged = [
        "[2026-12-01 02:36:04.208] WARNING[17935] config.c: parse error: no closing ']', line 4",
        "[2026-12-01 02:51:54.710] WARNING[13527][C-00000001] file.c: File x does not exist",
        "[2026-12-01 02:51:54.710] WARNING[13527][C-0000002a] pbx.c: Channel sent to invalid",
        "[2026-12-01 02:51:55.000] WARNING[13000] res_pjsip.c: qualify of 1001 timed out",
        "[2026-12-01 02:51:55.000] ERROR[13000] app_queue.c: bad member line",
        "[2026-12-01 02:51:55.000] WARNING[13000] func_odbc.c: in callflow/tiny/current/x",
        "[x] WARNING[1] taskprocessor.c: Taskprocessor 'a' queue reached 500 scheduled tasks",
        "an unknown format WARNING",
    ]
    assert callflow.deploy.reload_lines(logged, "tiny") == [
        logged[0],
        logged[4],
        logged[5],
        logged[7],
    ]


def test_cli_control_survives_bytes_asterisk_cut_mid_character() -> None:
    cut = CliControl(
        [sys.executable, "-c", "import sys; sys.stdout.buffer.write(b'Li \\xe6\\x9d')"]
    )
    assert cut.cli("queue show") == "Li \ufffd"


# What Asterisk 22 printed for a queue with two static members and one added at run time.
QUEUE_SHOW = (
    "star_motors-care has 0 calls (max unlimited) in 'rrmemory' strategy (0s holdtime), W:0\n"
    "   Members: \n"
    "      Local/x@cf-test-agent/n (ringinuse disabled)\x1b[1;36;40m (dynamic)\x1b[0m "
    "(\x1b[1;32;40mInvalid\x1b[0m) has taken no calls yet\n"
    "      He Yu (finance) (PJSIP/5001) (ringinuse disabled)\x1b[0m (Invalid) has taken no calls\n"
    "      Liu Fang (customer care) (PJSIP/4001) (ringinuse disabled) (Invalid) has taken no\n"
    "   No Callers\n\n"
)


def test_verify_reads_back_the_static_members_of_each_queue() -> None:
    pbx = Scripted({"dialplan show": DIALPLAN_SHOW, "queue show": QUEUE_SHOW})
    both = dataclasses.replace(
        manifest({"hints": 4}),
        queues=("star_motors-care",),
        members={"star_motors-care": ("PJSIP/5001", "PJSIP/4001")},
    )
    assert verify(pbx, both) == []  # the dynamic member is not the configuration's
    one_skipped = dataclasses.replace(
        both, members={"star_motors-care": ("PJSIP/5001", "PJSIP/4001", "PJSIP/2002")}
    )
    assert verify(pbx, one_skipped) == ["queue star_motors-care has no member PJSIP/2002"]
    fewer = dataclasses.replace(both, members={"star_motors-care": ("PJSIP/5001",)})
    assert verify(pbx, fewer) == [
        "queue star_motors-care has 2 members from its configuration, expected 1"
    ]


def test_a_current_link_moved_by_hand_to_a_version_asterisk_does_not_run_is_put_back(
    etc: Path, pbx: FakeAsterisk
) -> None:
    v1 = deploy(tiny(2), etc, asterisk=pbx).version
    v2 = deploy(tiny(3), etc, asterisk=pbx).version
    tree = SiteTree(etc, "tiny")
    tree.switch(v1)  # by hand, no reload: Asterisk still runs v2
    again = deploy(tiny(3), etc, asterisk=pbx)
    assert again.recovered == f"current pointed at {v1}, which was never verified; back on {v2}"
    assert (again.version, again.changed) == (v2, False)
    assert tree.versions() == [v1, v2]  # v1 is history, not a rejected version
