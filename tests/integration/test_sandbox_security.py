"""A sandbox cannot be borrowed: another local user reads none of its secrets and
starts nothing through it, and its Asterisk holds no root to lose.

The other user is real: a throwaway account made with ``useradd`` (tests run as root
in CI; under ``CI=true`` not being able to make one is a failure). Its probes run in a
child process that has given up root for that account's uid and gid.
"""

from __future__ import annotations

# imported here because the probe child, once another user, may not be able to read
# Python's own files (e.g. under /root/.pyenv) to import them lazily
import encodings.idna  # noqa: F401
import importlib.readers  # noqa: F401
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from callflow.sandbox import (
    LAUNCHER,
    RUNTIME_USER,
    SECRET_FILES,
    STATE_FILE,
    Sandbox,
    SandboxError,
    attach,
    down,
    up,
)

pytestmark = pytest.mark.asterisk


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"cannot test as a second user under CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def stranger() -> Iterator[pwd.struct_passwd]:
    """A real, unprivileged local user who has nothing to do with the sandbox."""
    if os.geteuid() != 0:
        _unavailable("making a second user needs root")
    if shutil.which("useradd") is None:
        _unavailable("no useradd on this machine")
    name = f"cf-x{secrets.token_hex(4)}"
    done = subprocess.run(
        ["useradd", "--no-create-home", "--shell", "/bin/sh", name],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        _unavailable(f"useradd {name}: {done.stderr.strip()}")
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], capture_output=True, check=False)


def as_user(user: pwd.struct_passwd, probe: Callable[[], Any]) -> Any:
    """Run ``probe`` in a forked child that is ``user`` (uid, gid, no other groups);
    return what it returned, or raise what it raised (as a RuntimeError)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            try:
                result = {"ok": probe()}
            except BaseException as exc:  # reported to the parent
                result = {"error": f"{type(exc).__name__}: {exc}"}
            os.write(write, json.dumps(result, default=str).encode())
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the probe process failed"
    result = json.loads(b"".join(chunks))
    if "error" in result:
        raise RuntimeError(result["error"])
    return result["ok"]


def ami_login(port: int, username: str, secret: str) -> dict[str, str]:
    """One AMI login over a raw socket; the response's fields."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        stream = conn.makefile("rwb")
        stream.readline()  # banner
        return _ami_send(stream, {"Action": "Login", "Username": username, "Secret": secret})


def _ami_send(stream: Any, action: dict[str, str]) -> dict[str, str]:
    block = "".join(f"{key}: {value}\r\n" for key, value in action.items()) + "\r\n"
    stream.write(block.encode())
    stream.flush()
    fields: dict[str, str] = {}
    while True:
        line = stream.readline().decode().rstrip("\r\n")
        if not line:
            if fields.get("Response") or fields.get("response"):
                return fields
            if not fields:
                raise ConnectionError("AMI closed the connection")
            fields = {}  # an event before the response: skip it
            continue
        key, _, value = line.partition(": ")
        fields[key] = value


@pytest.fixture(scope="module")
def persistent(asterisk_root: Path) -> Iterator[Sandbox]:
    """A sandbox started with ``up()``, so its state file exists too."""
    state_dir = Path(tempfile.mkdtemp(prefix="cf-sec-", dir="/tmp"))
    try:
        pbx = up(state_dir, root=asterisk_root)
    except SandboxError as exc:
        shutil.rmtree(state_dir, ignore_errors=True)
        pytest.fail(f"up() failed: {exc}")
    try:
        yield pbx
    finally:
        down(state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)


def test_secrets_are_the_owners_alone(persistent: Sandbox) -> None:
    state = persistent.workdir / STATE_FILE
    assert state.stat().st_uid == os.geteuid()
    assert state.stat().st_mode & 0o777 == 0o600
    assert persistent.workdir.stat().st_mode & 0o077 in (0o000, 0o010)  # group: pass only
    assert persistent.ami_secret in (persistent.etc_dir / "manager.conf").read_text()
    assert persistent.ari_password in (persistent.etc_dir / "ari.conf").read_text()
    for name in SECRET_FILES:
        path = persistent.etc_dir / name
        assert path.stat().st_mode & 0o007 == 0, f"{name} is open to others"
        assert path.stat().st_mode & 0o020 == 0, f"{name} is writable by its group"


def test_another_user_cannot_read_the_secrets(
    persistent: Sandbox, stranger: pwd.struct_passwd
) -> None:
    targets = [
        persistent.workdir / STATE_FILE,
        *(persistent.etc_dir / name for name in SECRET_FILES),
    ]

    def probe() -> dict[str, str]:
        outcome = {}
        for path in targets:
            try:
                outcome[str(path)] = path.read_text()
            except OSError as exc:
                outcome[str(path)] = f"refused: {exc.strerror}"
        try:
            outcome["listing"] = ",".join(os.listdir(persistent.workdir))
        except OSError as exc:
            outcome["listing"] = f"refused: {exc.strerror}"
        return outcome

    outcome = as_user(stranger, probe)
    assert outcome == {key: "refused: Permission denied" for key in outcome}, outcome


def test_another_user_cannot_log_in_to_ami_with_guessed_credentials(
    persistent: Sandbox, stranger: pwd.struct_passwd
) -> None:
    guesses = [
        (persistent.ami_user, ""),
        (persistent.ami_user, persistent.ami_user),
        (persistent.ami_user, "callflow"),
        ("admin", "amp111"),
        ("admin", "admin"),
    ]

    def probe() -> list[str]:
        return [
            ami_login(persistent.ami_port, user, secret)["Response"] for user, secret in guesses
        ]

    assert as_user(stranger, probe) == ["Error"] * len(guesses)
    # the check is real: the right secret does log in
    assert ami_login(persistent.ami_port, persistent.ami_user, persistent.ami_secret)[
        "Response"
    ] == ("Success")


def test_another_user_cannot_reach_the_control_socket(
    persistent: Sandbox, stranger: pwd.struct_passwd
) -> None:
    ctl = persistent.workdir / "run" / "asterisk.ctl"
    argv = [*persistent.asterisk_command(), "-rx", "core show version"]

    def probe() -> dict[str, Any]:
        outcome: dict[str, Any] = {}
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.connect(str(ctl))
                outcome["socket"] = "connected"
        except OSError as exc:
            outcome["socket"] = exc.strerror
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
        outcome["cli"] = [done.returncode, done.stdout + done.stderr]
        return outcome

    outcome = as_user(stranger, probe)
    assert outcome["socket"] == "Permission denied"
    returncode, output = outcome["cli"]
    assert returncode != 0 and "Asterisk 22" not in output, output
    assert "Asterisk 22" in persistent.cli("core show version")  # root still can


def test_another_user_cannot_attach_or_stop_it(
    persistent: Sandbox, stranger: pwd.struct_passwd
) -> None:
    def probe() -> list[str]:
        errors = []
        for call in (attach, down):
            try:
                call(persistent.workdir)
                errors.append("allowed")
            except SandboxError as exc:
                errors.append(str(exc))
        return errors

    errors = as_user(stranger, probe)
    assert all("belongs to" in error and "not to you" in error for error in errors), errors
    assert attach(persistent.workdir).pid == persistent.pid  # still running, still ours


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def test_asterisk_runs_unprivileged_and_without_capabilities(sandbox: Sandbox) -> None:
    if os.geteuid() != 0:
        pytest.skip("started by a user, Asterisk runs as that user")
    assert sandbox.pid is not None
    status = _status(sandbox.pid)
    runtime = pwd.getpwnam(RUNTIME_USER)
    assert status["Uid"].split() == [str(runtime.pw_uid)] * 4
    assert status["Gid"].split() == [str(runtime.pw_gid)] * 4
    assert status["Groups"] == ""
    assert int(status["CapPrm"], 16) == 0 and int(status["CapEff"], 16) == 0
    assert sandbox.run_as is not None and sandbox.run_as.uid == runtime.pw_uid


def test_core_restart_keeps_asterisk_unprivileged(asterisk_root: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("started by a user, Asterisk runs as that user")
    with Sandbox(asterisk_root) as pbx:
        assert pbx.launcher == asterisk_root / LAUNCHER
        pbx.cli("core restart now")
        assert pbx.pid is not None
        status = _status(pbx.pid)
        assert status["Uid"].split()[0] == str(pwd.getpwnam(RUNTIME_USER).pw_uid)
        assert int(status["CapPrm"], 16) == 0


def test_the_ami_user_cannot_run_shell_commands_through_asterisk(sandbox: Sandbox) -> None:
    """Asterisk 22's manager.c refuses Originate into System, Exec, MixMonitor (its
    post-recording command runs in a shell) and dialplan functions such as SHELL unless
    the user has the ``system`` write class; the sandbox's AMI user has not, nor
    ``command`` (the CLI, whose ``dialplan add extension`` would get around it)."""
    proof = Path(tempfile.mkdtemp(prefix="cf-proof-", dir="/tmp")) / "ran"
    shell = f"touch {proof}"
    attempts = [
        {"Application": "System", "Data": shell},
        {"Application": "TrySystem", "Data": shell},
        {"Application": "Exec", "Data": f"System({shell})"},
        {"Application": "MixMonitor", "Data": f"/tmp/cf-rec.wav,,{shell}"},
        {"Application": "Wait", "Data": f"${{SHELL({shell})}}"},
        {"Application": "AGI", "Data": f"/bin/sh -c '{shell}'"},
    ]
    refused = []
    try:
        with socket.create_connection(("127.0.0.1", sandbox.ami_port), timeout=5) as conn:
            stream = conn.makefile("rwb")
            stream.readline()
            login = {
                "Action": "Login",
                "Username": sandbox.ami_user,
                "Secret": sandbox.ami_secret,
                "Events": "off",
            }
            assert _ami_send(stream, login)["Response"] == "Success"
            for attempt in attempts:
                answer = _ami_send(
                    stream,
                    {"Action": "Originate", "Channel": "Local/s@cf-test-noanswer", **attempt},
                )
                refused.append((attempt["Application"], answer["Response"], answer["Message"]))
            command = _ami_send(stream, {"Action": "Command", "Command": "core show version"})
            config = _ami_send(
                stream,
                {
                    "Action": "UpdateConfig",
                    "SrcFilename": "extensions.conf",
                    "DstFilename": "extensions.conf",
                    "Reload": "yes",
                    "Action-000000": "Append",
                    "Cat-000000": "cf-test-caller",
                    "Var-000000": "exten",
                    "Value-000000": f"s,9,System({shell})",
                },
            )
        time.sleep(1.0)  # anything that did start would have run by now
        for app, response, message in refused:
            assert (response, message) == (
                "Error",
                "Originate Access Forbidden: app or data blacklisted",
            ), app
        assert (command["Response"], command["Message"]) == ("Error", "Permission denied")
        assert (config["Response"], config["Message"]) == ("Error", "Permission denied")
        assert not proof.exists()
        assert f"System({shell})" not in (sandbox.etc_dir / "extensions.conf").read_text()
        # and what callflow needs is allowed: a plain Originate of a test call
        assert "cf-test-noanswer" in sandbox.cli("dialplan show cf-test-noanswer")
    finally:
        shutil.rmtree(proof.parent, ignore_errors=True)


def test_the_stranger_probe_really_runs_as_the_stranger(stranger: pwd.struct_passwd) -> None:
    """Guard for the tests above: a probe that refused everything because it could not
    run at all would prove nothing."""
    assert as_user(stranger, lambda: (os.getuid(), os.getgid(), os.getgroups())) == [
        stranger.pw_uid,
        stranger.pw_gid,
        [],
    ]
    assert as_user(stranger, lambda: Path(sys.executable).name)  # it can run Python code


def test_a_users_own_sandbox_runs_as_that_user_and_is_private(
    asterisk_root: Path, stranger: pwd.struct_passwd
) -> None:
    """Started by a user who is not root: Asterisk runs as that user (no runuser), the
    work dir is 0700 and the secrets 0600, and root's sandbox stays out of reach."""

    def probe() -> dict[str, Any]:
        with Sandbox(asterisk_root) as pbx:
            assert pbx.pid is not None and pbx.run_as is None
            return {
                "uid": _status(pbx.pid)["Uid"].split()[0],
                "version": pbx.cli("core show version")[:11],
                "workdir": pbx.workdir.stat().st_mode & 0o777,
                "etc": pbx.etc_dir.stat().st_mode & 0o777,
                "secrets": [(pbx.etc_dir / n).stat().st_mode & 0o777 for n in SECRET_FILES],
                "problems": pbx.problems_since(0),
            }

    outcome = as_user(stranger, probe)
    assert outcome == {
        "uid": str(stranger.pw_uid),
        "version": "Asterisk 22",
        "workdir": 0o700,
        "etc": 0o700,
        "secrets": [0o600, 0o600],
        "problems": [],
    }
