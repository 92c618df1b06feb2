"""Who may use a sandbox: its directories, its secrets and the user its Asterisk runs as.

A sandbox belongs to the user who started it. Its work directory is that user's alone
(0700), the files holding passwords are 0600, and a state directory that another user
owns or could write into is refused: whoever controls it controls the dialplan.

Started by root, the sandbox's Asterisk does not run as root: it drops to
:data:`RUNTIME_USER` (created on first use, a system user without a shell or home),
with an empty capability bounding set apart from what dropping needs. Asterisk must
read its configuration, so for root the layout is::

    workdir   root:callflow-asterisk  0710   (the group may only pass through)
    etc/      root:callflow-asterisk  2750   (deploy writes here as root; new files
                                              get the group, so Asterisk reads them)
    etc/*     root:callflow-asterisk  0640   (manager.conf, ari.conf: secrets)
    lib/ spool/ run/ log/ cache/
              callflow-asterisk       0750   (Asterisk writes here)
    sandbox.json  root                0600

The group has no member but the runtime user. Other users can enter none of it.
"""

from __future__ import annotations

import ctypes
import grp
import os
import pwd
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from callflow.sandbox.common import SandboxError, run_step

RUNTIME_USER = "callflow-asterisk"
"""The unprivileged user a sandbox started by root runs Asterisk as
(``$CALLFLOW_SANDBOX_USER`` names another, existing one)."""

SOCKET_PATH_LIMIT = 107
"""Longest path of a Unix socket on Linux (``sun_path`` is 108 bytes with its NUL)."""

CONTROL_SOCKET = "run/asterisk.ctl"
"""Asterisk's control socket, relative to the work directory."""

#: capabilities Asterisk (started as root) needs to give up root: chown its run
#: directory, setgid/setgroups, setuid (see :func:`drop_capabilities`)
_KEEP_CAPS = (0, 6, 7)  # CAP_CHOWN, CAP_SETGID, CAP_SETUID
_PR_CAPBSET_DROP = 24
_PR_SET_SECUREBITS = 28
_SECBIT_KEEP_CAPS_LOCKED = 1 << 5


@dataclass(frozen=True)
class RunAs:
    """The user and group a root-started sandbox runs Asterisk as."""

    user: str
    group: str
    uid: int
    gid: int


def runtime_identity() -> RunAs | None:
    """Who Asterisk runs as: None when not root (Asterisk runs as the invoking user),
    else :data:`RUNTIME_USER`, created with ``useradd`` if missing."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("CALLFLOW_SANDBOX_USER") or RUNTIME_USER
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        if name != RUNTIME_USER:
            raise SandboxError(
                f"CALLFLOW_SANDBOX_USER={name}: no such user (unset it to use {RUNTIME_USER})"
            ) from None
        _create_runtime_user(name)
        entry = pwd.getpwnam(name)
    if entry.pw_uid == 0:
        raise SandboxError(f"sandbox user {name} is uid 0; Asterisk must not run as root")
    return RunAs(name, grp.getgrgid(entry.pw_gid).gr_name, entry.pw_uid, entry.pw_gid)


def _create_runtime_user(name: str) -> None:
    nologin = next(
        (p for p in ("/usr/sbin/nologin", "/sbin/nologin") if Path(p).exists()), "/bin/false"
    )
    try:
        run_step(
            f"create the sandbox user {name}",
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                nologin,
                "--comment",
                "callflow sandbox Asterisk",
                name,
            ],
            timeout=60,
        )
    except SandboxError:
        try:  # another process created it meanwhile
            pwd.getpwnam(name)
        except KeyError:
            raise
        return


def check_state_dir(directory: Path) -> None:
    """Refuse a state directory another user owns or could write into (with the reason)."""
    try:
        st = directory.stat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise SandboxError(f"sandbox state dir {directory}: {exc.strerror}") from exc
    if not stat.S_ISDIR(st.st_mode):
        raise SandboxError(f"sandbox state dir {directory} is not a directory")
    me = os.geteuid()
    if st.st_uid != me:
        raise SandboxError(
            f"sandbox state dir {directory} belongs to {_user(st.st_uid)}, not to you "
            f"({_user(me)}): refusing a directory another user controls; remove it or "
            "pass another --state-dir"
        )
    if st.st_mode & 0o022:
        raise SandboxError(
            f"sandbox state dir {directory} is writable by "
            f"{'others' if st.st_mode & 0o002 else 'its group'} "
            f"(mode {stat.S_IMODE(st.st_mode):04o}): refusing it; `chmod 700 {directory}` "
            "or pass another --state-dir"
        )


def check_socket_path(workdir: Path) -> None:
    """Fail at once when the control socket's path would be over the Unix limit."""
    path = workdir / CONTROL_SOCKET
    size = len(os.fsencode(str(path)))
    if size > SOCKET_PATH_LIMIT:
        raise SandboxError(
            f"sandbox dir {workdir} is too long: its control socket {path} would be "
            f"{size} bytes, over the {SOCKET_PATH_LIMIT}-byte limit of a Unix socket "
            "path; choose a shorter --state-dir"
        )


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) 0700, owned by the invoking user."""
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)


def unreachable(path: Path, who: RunAs) -> Path | None:
    """The first directory on the way to ``path`` that ``who`` may not enter, if any."""
    resolved = path.resolve()
    for directory in [*reversed(resolved.parents), resolved]:
        try:
            st = directory.stat()
        except OSError:
            return directory
        if not stat.S_ISDIR(st.st_mode):
            continue
        if st.st_uid == who.uid:
            allowed = st.st_mode & stat.S_IXUSR
        elif st.st_gid == who.gid:
            allowed = st.st_mode & stat.S_IXGRP
        else:
            allowed = st.st_mode & stat.S_IXOTH
        if not allowed:
            return directory
    return None


def write_file(path: Path, text: str, *, mode: int, group: int | None = None) -> None:
    """Write ``path`` atomically with ``mode`` (and ``group``) from its first byte: a
    temporary file beside it, then a rename, so a symlink planted there is replaced,
    never followed."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as out:
            os.fchmod(out.fileno(), mode)
            if group is not None:
                os.fchown(out.fileno(), -1, group)
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def set_owner_mode(path: Path, *, mode: int, uid: int = -1, gid: int = -1) -> None:
    os.chown(path, uid, gid, follow_symlinks=False)
    os.chmod(path, mode)


def drop_capabilities() -> None:  # pragma: no cover - runs in the child before exec
    """Make sure what a root child execs holds no capability once it gives up root.

    Asterisk asks the kernel to keep its capabilities across ``setuid`` (to keep
    CAP_NET_ADMIN for TOS marking); kept, they would include CAP_SETUID, i.e. root.
    Locking "keep capabilities" off makes that request fail, so ``setuid`` clears them
    all; the bounding set keeps only what giving up root needs.
    """
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_SECUREBITS, _SECBIT_KEEP_CAPS_LOCKED, 0, 0, 0)
    try:
        last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    except (OSError, ValueError):
        last = 40
    for cap in range(last + 1):
        if cap not in _KEEP_CAPS:
            libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)


def _user(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"
