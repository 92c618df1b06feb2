"""Fixtures for tests that run a real Asterisk 22 (marked ``asterisk``).

One sandbox boots per session. When it cannot be provisioned or started the tests
are skipped with the reason, except under CI (``CI=true``), where that is a failure.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from callflow.sandbox import Sandbox, SandboxError, provision
from callflow.testing import CallDriver


def sandbox_unavailable(reason: str) -> None:
    """Skip a test that needs Asterisk, or fail it loudly under CI."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"Asterisk sandbox unavailable under CI: {reason}", pytrace=False)
    pytest.skip(f"Asterisk sandbox unavailable: {reason}")


@pytest.fixture(scope="session")
def asterisk_root() -> Path:
    """The provisioned Asterisk 22 root (built on first use, then cached)."""
    try:
        return provision()
    except (SandboxError, OSError) as exc:
        sandbox_unavailable(str(exc))
        raise  # unreachable: skip/fail raise


@pytest.fixture(scope="session")
def sandbox(asterisk_root: Path) -> Iterator[Sandbox]:
    """One running sandbox for the whole session."""
    pbx = Sandbox(asterisk_root)
    try:
        pbx.start()
    except (SandboxError, OSError) as exc:
        pbx.stop()
        sandbox_unavailable(str(exc))
    try:
        yield pbx
    finally:
        pbx.stop()


@pytest.fixture
async def driver(sandbox: Sandbox) -> AsyncIterator[CallDriver]:
    """An AMI call driver connected to the session's sandbox."""
    async with CallDriver.from_sandbox(sandbox) as call_driver:
        yield call_driver
