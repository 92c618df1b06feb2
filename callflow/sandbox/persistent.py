"""One sandbox that keeps running across processes: ``callflow sandbox up/down/status``.

Its state directory is the invoking user's own: by default under ``$XDG_RUNTIME_DIR``
or ``~/.cache/callflow`` (root: ``/run/callflow``, which only root can create in), never
a guessable path in a directory everyone can write to. A state directory another user
owns or could write into is refused (:func:`callflow.sandbox.access.check_state_dir`).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from pathlib import Path
from typing import Any

from callflow.sandbox.access import check_socket_path, check_state_dir, make_private_dir, write_file
from callflow.sandbox.common import SandboxError, locked
from callflow.sandbox.instance import STATE_FILE, Sandbox, _pid_alive

ROOT_STATE_DIR = Path("/run/callflow/sandbox")
"""root's default state directory (``/run`` is writable by root only)."""


def default_state_dir() -> Path:
    """Where ``up()`` runs the persistent sandbox when no state directory is given:
    ``/run/callflow/sandbox`` for root, ``$XDG_RUNTIME_DIR/callflow-sandbox`` when that
    is the user's private runtime directory, else ``~/.cache/callflow/sandbox``."""
    if os.geteuid() == 0:
        return ROOT_STATE_DIR
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime):
        with contextlib.suppress(OSError):
            st = os.stat(runtime)
            if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) & 0o077 == 0:
                return Path(runtime) / "callflow-sandbox"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "callflow" / "sandbox"


def _directory(state_dir: Path | str | None) -> Path:
    directory = Path(state_dir) if state_dir is not None else default_state_dir()
    directory = directory.absolute()
    check_socket_path(directory)
    check_state_dir(directory)
    return directory


def up(state_dir: Path | str | None = None, *, root: Path | str | None = None) -> Sandbox:
    """Start the persistent sandbox (or return the one already running)::

    pbx = up()               # ~/.cache/callflow/sandbox (root: /run/callflow/sandbox)
    print(pbx.ami_port)      # still running after this process exits
    """
    directory = _directory(state_dir)
    try:
        return attach(directory)
    except SandboxError:
        pass
    if os.geteuid() == 0 and directory == ROOT_STATE_DIR:
        ROOT_STATE_DIR.parent.mkdir(mode=0o755, exist_ok=True)
    make_private_dir(directory)
    check_state_dir(directory)  # again: it may have appeared meanwhile
    with locked(directory / ".lock"):
        with contextlib.suppress(SandboxError):
            return attach(directory)
        sandbox = Sandbox(root, workdir=directory, keep=True, detached=True)
        sandbox.start()
        write_file(
            directory / STATE_FILE,
            json.dumps(sandbox._to_state(), indent=2) + "\n",
            mode=0o600,
        )
        return sandbox


def attach(state_dir: Path | str | None = None) -> Sandbox:
    """Re-open the persistent sandbox started by :func:`up`; ``SandboxError`` if none runs."""
    directory = _directory(state_dir)
    try:
        state = json.loads((directory / STATE_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise SandboxError(f"attach: no sandbox state in {directory}: {exc}") from exc
    if not isinstance(state.get("pid"), int) or not _pid_alive(state["pid"]):
        raise SandboxError(f"attach: the sandbox in {directory} is not running")
    sandbox = Sandbox(state["root"], workdir=directory, keep=True, detached=True)
    for key in ("http_port", "ami_port", "ami_user", "ami_secret", "ari_user", "ari_password"):
        setattr(sandbox, key, state[key])
    sandbox.pid = state["pid"]
    sandbox.cli("core show uptime seconds", timeout=5)  # it answers: really ours and alive
    return sandbox


def down(state_dir: Path | str | None = None) -> bool:
    """Stop the persistent sandbox; False when none was running."""
    directory = _directory(state_dir)
    try:
        sandbox = attach(directory)
    except SandboxError:
        (directory / STATE_FILE).unlink(missing_ok=True)
        return False
    sandbox.keep = False
    sandbox.stop()
    return True


def status(state_dir: Path | str | None = None) -> dict[str, Any]:
    """What ``callflow sandbox status`` prints: running or not, pid, ports, credentials."""
    directory = _directory(state_dir)
    try:
        sandbox = attach(directory)
    except SandboxError as exc:
        return {"running": False, "state_dir": str(directory), "reason": str(exc)}
    uptime = sandbox.cli("core show uptime seconds").strip()
    return {
        "running": True,
        "state_dir": str(directory),
        "uptime": uptime,
        "ari_url": sandbox.ari_url,
        **sandbox._to_state(),
    }
