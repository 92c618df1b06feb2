"""Provision and run an isolated Asterisk 22 for tests and demos.

An Asterisk root is built once with debootstrap into a cache directory
(:mod:`~callflow.sandbox.root`); every :class:`Sandbox` then runs that Asterisk from its
own short work directory, with its own configuration, loopback-only ports and
credentials (:mod:`~callflow.sandbox.instance`), so several can run at once without
touching the host's ``/etc/asterisk``::

    with Sandbox() as pbx:
        print(pbx.cli("core show version"))
        assert pbx.problems_since(0) == []

``up()``/``attach()``/``down()``/``status()`` keep one sandbox running across processes
for the ``callflow sandbox`` command (:mod:`~callflow.sandbox.persistent`). A sandbox
belongs to the user who started it; started by root, its Asterisk runs as an
unprivileged user (:mod:`~callflow.sandbox.access`).
"""

from callflow.sandbox.access import (
    RUNTIME_USER,
    SOCKET_PATH_LIMIT,
    RunAs,
    check_state_dir,
    runtime_identity,
)
from callflow.sandbox.common import SandboxError
from callflow.sandbox.instance import MODULES, SECRET_FILES, STATE_FILE, Sandbox
from callflow.sandbox.persistent import (
    ROOT_STATE_DIR,
    attach,
    default_state_dir,
    down,
    status,
    up,
)
from callflow.sandbox.root import (
    DEBIAN_PACKAGES,
    DEBIAN_SUITE,
    LAUNCHER,
    ROOT_NAME,
    SYSTEM_CACHE_DIR,
    default_cache_dir,
    fix_launcher,
    fix_root,
    launcher_ready,
    provision,
)

__all__ = [
    "DEBIAN_PACKAGES",
    "DEBIAN_SUITE",
    "LAUNCHER",
    "MODULES",
    "ROOT_NAME",
    "ROOT_STATE_DIR",
    "RUNTIME_USER",
    "SECRET_FILES",
    "SOCKET_PATH_LIMIT",
    "STATE_FILE",
    "SYSTEM_CACHE_DIR",
    "RunAs",
    "Sandbox",
    "SandboxError",
    "attach",
    "check_state_dir",
    "default_cache_dir",
    "default_state_dir",
    "down",
    "fix_launcher",
    "fix_root",
    "launcher_ready",
    "provision",
    "runtime_identity",
    "status",
    "up",
]
