"""Who may use a sandbox's state directory, checked before anything starts (no Asterisk)."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from callflow.cli import main
from callflow.sandbox import (
    ROOT_STATE_DIR,
    SOCKET_PATH_LIMIT,
    SandboxError,
    attach,
    check_state_dir,
    default_state_dir,
    down,
    status,
    up,
)
from callflow.sandbox.access import RunAs, make_private_dir, unreachable, write_file

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")


def test_a_world_writable_state_dir_is_refused_by_every_entry_point(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    for call in (up, attach, down, status):
        with pytest.raises(SandboxError, match=r"writable by others \(mode 0777\)"):
            call(shared)
    assert list(shared.iterdir()) == []  # nothing was written into it


def test_a_group_writable_state_dir_is_refused(tmp_path: Path) -> None:
    tmp_path.chmod(0o770)
    with pytest.raises(SandboxError, match="writable by its group"):
        check_state_dir(tmp_path)


@as_root
def test_a_state_dir_another_user_owns_is_refused(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)
    with pytest.raises(SandboxError, match=r"belongs to .*uid 65534.*not to you"):
        up(theirs)
    assert list(theirs.iterdir()) == []


@as_root
def test_a_symlink_to_another_users_dir_is_refused(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)
    link = tmp_path / "mine"
    link.symlink_to(theirs)
    with pytest.raises(SandboxError, match="belongs to"):
        status(link)


def test_the_cli_refuses_a_foreign_state_dir_with_one_clear_line(tmp_path: Path) -> None:
    tmp_path.chmod(0o777)
    for args in (["up"], ["down"], ["status"], ["cli", "core", "show", "version"]):
        result = CliRunner().invoke(main, ["sandbox", *args, "--state-dir", str(tmp_path)])
        assert result.exit_code == 1, (args, result.output)
        assert f"sandbox state dir {tmp_path} is writable by others" in result.output
        assert "Traceback" not in result.output


def test_a_state_dir_too_long_for_the_socket_fails_at_once_naming_the_limit(
    tmp_path: Path,
) -> None:
    deep = tmp_path / ("d" * (SOCKET_PATH_LIMIT - len(str(tmp_path))))
    started = time.monotonic()
    with pytest.raises(SandboxError, match=rf"over the {SOCKET_PATH_LIMIT}-byte limit"):
        up(deep)
    assert time.monotonic() - started < 1
    assert not deep.exists()
    result = CliRunner().invoke(main, ["sandbox", "up", "--state-dir", str(deep)])
    assert result.exit_code == 1 and "Unix socket path" in result.output
    assert "Traceback" not in result.output


def test_the_default_state_dir_is_the_users_own() -> None:
    default = default_state_dir()
    assert not str(default).startswith("/tmp/")
    if os.geteuid() == 0:
        assert default == ROOT_STATE_DIR
    else:
        assert str(default).startswith(str(Path.home())) or str(default).startswith(
            os.environ.get("XDG_RUNTIME_DIR", "//")
        )
    assert len(str(default / "run/asterisk.ctl")) <= SOCKET_PATH_LIMIT


def test_default_state_dir_uses_a_private_runtime_dir_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    me = os.geteuid() or 1000  # as root, pretend to be a user (root always gets /run)
    monkeypatch.setattr(os, "geteuid", lambda: me)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    os.chown(runtime, me, -1)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_state_dir() == runtime / "callflow-sandbox"
    runtime.chmod(0o755)  # not private: fall back to the cache
    assert default_state_dir() == tmp_path / "cache" / "callflow" / "sandbox"


def test_private_dirs_and_files_are_made_with_their_mode_from_the_start(tmp_path: Path) -> None:
    old = os.umask(0)  # the mode must not depend on the caller's umask
    try:
        make_private_dir(tmp_path / "a" / "b")
        write_file(tmp_path / "a" / "b" / "secret.conf", "secret = x\n", mode=0o600)
    finally:
        os.umask(old)
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "a" / "b").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "a" / "b" / "secret.conf").stat().st_mode & 0o777 == 0o600


def test_write_file_replaces_a_planted_symlink_instead_of_following_it(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    (tmp_path / "manager.conf").symlink_to(victim)
    write_file(tmp_path / "manager.conf", "secret = x\n", mode=0o600)
    assert victim.read_text() == "keep\n"
    assert not (tmp_path / "manager.conf").is_symlink()


def test_unreachable_names_the_directory_that_keeps_a_user_out() -> None:
    base = Path(tempfile.mkdtemp(prefix="cf-reach-", dir="/tmp"))
    try:
        base.chmod(0o711)
        closed = base / "closed"
        (closed / "inner").mkdir(parents=True)
        closed.chmod(0o700)
        stranger = RunAs("someone", "someone", 54321, 54321)
        assert unreachable(closed / "inner", stranger) == closed
        closed.chmod(0o711)
        assert unreachable(closed / "inner", stranger) is None
    finally:
        shutil.rmtree(base)


def test_roots_old_cache_is_taken_over_by_hard_links_without_writing_to_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """As root the cache moved to /var/cache/callflow; a root already built under
    ~/.cache/callflow is linked over (seconds, no space), never modified."""
    from callflow.sandbox import root as build

    home = tmp_path / "home"
    old = home / ".cache" / "callflow" / build.ROOT_NAME
    (old / "usr/sbin").mkdir(parents=True)
    (old / "usr/sbin/asterisk").write_text("binary\n")
    (old / build.LAUNCHER).write_text("old launcher\n")
    (old / ".callflow-root-complete").write_text("old marker\n")
    (old / ".callflow-launcher").write_text("old stamp\n")
    old.chmod(0o700)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    new = build.provision(tmp_path / "system")  # not an Asterisk root: no launcher made
    assert new == tmp_path / "system" / build.ROOT_NAME
    assert new.stat().st_mode & 0o777 == 0o755
    assert (new / "usr/sbin/asterisk").stat().st_ino == (old / "usr/sbin/asterisk").stat().st_ino
    assert not (new / build.LAUNCHER).exists()  # made anew for the new path, not linked
    assert (new / ".callflow-root-complete").stat().st_ino != (
        old / ".callflow-root-complete"
    ).stat().st_ino
    assert (old / ".callflow-root-complete").read_text() == "old marker\n"
    assert (old / build.LAUNCHER).read_text() == "old launcher\n"
    assert (old / ".callflow-launcher").read_text() == "old stamp\n"
    assert old.stat().st_mode & 0o777 == 0o700
