"""Talking to Asterisk: its CLI, and the log lines a reload wrote.

pbx = CliControl()                                 # the system's `asterisk -rx ...`
log = LogReader("/var/log/asterisk/messages")
mark = log.log_mark(); pbx.cli("dialplan reload"); reload_lines(log.problems_since(mark), "shop")
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from callflow.errors import DeployError

#: What makes Asterisk re-read the files a site is made of, in this order: phones and
#: music first, so that the dialplan and queues that use them find them.
RELOAD_COMMANDS = (
    "module reload res_pjsip.so",
    "moh reload",
    "dialplan reload",
    "module reload app_queue.so",
    "voicemail reload",
)


class AsteriskControl(Protocol):
    """Runs one Asterisk CLI command and returns its output (a Sandbox is one too)."""

    def cli(self, command: str) -> str: ...


class ProblemLog(Protocol):
    """Tells the WARNING and ERROR lines Asterisk logged after a mark: a :class:`LogReader`,
    or a :class:`~callflow.sandbox.Sandbox`."""

    def log_mark(self) -> int: ...

    def problems_since(self, mark: int) -> list[str]: ...


@dataclass(frozen=True)
class CliControl:
    """Talks to Asterisk through its remote console, ``<argv_prefix> -rx <command>``::

    CliControl()                                   # the system's `asterisk`
    CliControl(sandbox.asterisk_command())         # a sandbox

    Output is decoded as UTF-8 with undecodable bytes replaced: Asterisk cuts long
    names at a byte count, sometimes inside a character, and that must not crash a deploy.
    """

    argv_prefix: Sequence[str] = ("asterisk",)
    timeout: float = 10.0

    def cli(self, command: str) -> str:
        argv = [*self.argv_prefix, "-rx", command]
        try:
            done = subprocess.run(argv, capture_output=True, timeout=self.timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DeployError(f"asterisk -rx {command!r}: {exc}") from exc
        stdout = done.stdout.decode("utf-8", "replace")
        if done.returncode != 0:
            output = (stdout + done.stderr.decode("utf-8", "replace")).strip()
            raise DeployError(f"asterisk -rx {command!r} exited {done.returncode}: {output}")
        return stdout


@dataclass(frozen=True)
class LogReader:
    """Reads an Asterisk log file that logs warnings and errors (a :class:`ProblemLog`)::

    log = LogReader("/var/log/asterisk/messages")
    deploy(site, Path("/etc/asterisk"), asterisk=CliControl(), log_reader=log)

    ``settle`` gives Asterisk's logger thread time to write what a reload just caused.
    """

    path: Path | str
    settle: float = 0.3

    def log_mark(self) -> int:
        try:
            return os.stat(self.path).st_size
        except FileNotFoundError:
            return 0

    def problems_since(self, mark: int) -> list[str]:
        time.sleep(self.settle)
        try:
            with open(self.path, "rb") as log:
                log.seek(mark)
                text = log.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return []
        return [line for line in text.splitlines() if "] WARNING[" in line or "] ERROR[" in line]


# "[2026-12-01 02:36:04.208] WARNING[17935] config.c: parse error: ..." and, from a
# channel's thread, "... WARNING[18001][C-00000003] file.c: File x does not exist ..."
_LOGGED = re.compile(
    r"\] (?:WARNING|ERROR)\[\d+\](?P<call>\[C-[0-9A-Fa-f]+\])?:?\s+(?P<source>[\w.-]+?\.c)\b"
)
#: Where Asterisk's own code logs what a reload of our three files finds wrong.
_RELOAD_SOURCES = frozenset(
    {
        "config.c",
        "pbx_config.c",
        "pbx.c",
        "app_queue.c",
        "app_voicemail.c",
        "loader.c",
        "res_musiconhold.c",
        "config_transport.c",
        "config_auth.c",
        "res_sorcery_config.c",
        "sorcery.c",
        "res_pjsip_endpoint_identifier_ip.c",
        "pjsip_configuration.c",
        "indications.c",
    }
)
# Load, not configuration: loading ~1000 queues at once backs up the device-state
# taskprocessor and Asterisk says so; the queues themselves load fine.
_NOT_A_CONFIG_PROBLEM = re.compile(r"taskprocessor\.c: Taskprocessor '.*' queue reached \d+")


def reload_lines(lines: Iterable[str], site: str) -> list[str]:
    """The lines of ``lines`` (WARNING/ERROR lines from the log) that a reload logged.

    A line a call logged carries the call's id (``[C-0000002a]``): a live call's missing
    prompt during the reload is not the deploy's fault. What remains counts when it comes
    from the code that parses configuration (config.c, pbx_config.c, app_queue.c, ...) or
    names the site's own files; a line in a format this does not know counts too.
    """
    kept = []
    for line in lines:
        if _NOT_A_CONFIG_PROBLEM.search(line):
            continue
        found = _LOGGED.search(line)
        by_reload = found is None or (  # a format this does not know counts
            found["call"] is None
            and (found["source"] in _RELOAD_SOURCES or f"callflow/{site}/" in line)
        )
        if by_reload:
            kept.append(line)
    return kept
