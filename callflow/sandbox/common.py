"""What every part of the sandbox shares: its error and running a step."""

from __future__ import annotations

import contextlib
import fcntl
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path


class SandboxError(RuntimeError):
    """Provisioning or running the sandbox failed; the message names the step."""


def run_step(step: str, argv: Sequence[str], *, timeout: float) -> str:
    """Run ``argv``; its stdout, or ``SandboxError`` naming ``step`` with the output's tail."""
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxError(f"{step}: {' '.join(argv)} failed: {exc}") from exc
    if done.returncode != 0:
        tail = tail_lines(done.stdout + done.stderr)
        raise SandboxError(f"{step}: {' '.join(argv)} exited {done.returncode}:\n{tail}")
    return done.stdout


def tail_lines(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path``."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
