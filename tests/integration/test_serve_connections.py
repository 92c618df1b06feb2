"""serve against the real Asterisk: a wrong AMI secret or ARI password is said plainly
("authentication failed"), never fatal, and FastAGI is up while AMI is not."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest

from callflow.runtime.ami import AmiAddress, AmiConnection
from callflow.runtime.ari import AriClient, AriSettings
from callflow.store import upgrade

from .sites import free_port

pytestmark = pytest.mark.asterisk


async def test_wrong_ami_secret_is_said_once_per_attempt_then_the_right_one_connects(
    sandbox, caplog
):
    caplog.set_level(logging.INFO, logger="callflow.ami")
    address = AmiAddress(sandbox.ami_host, sandbox.ami_port)
    wrong = AmiConnection(address, sandbox.ami_user, "not-the-secret")
    wrong.auth_retry = 0.5
    wrong.start()
    try:
        deadline = time.monotonic() + 10
        while wrong.auth_failures < 2:
            assert time.monotonic() < deadline, "no authentication failure reported"
            await asyncio.sleep(0.05)
    finally:
        wrong.close()
    failed = [r for r in caplog.records if "authentication failed" in r.getMessage()]
    assert len(failed) == wrong.auth_failures and not wrong.connected.is_set()
    assert "not-the-secret" not in caplog.text
    right = AmiConnection(address, sandbox.ami_user, sandbox.ami_secret)
    right.start()
    try:
        await asyncio.wait_for(right.connected.wait(), 10)
    finally:
        right.close()


async def test_ari_401_is_said_as_authentication_failed(sandbox, caplog):
    caplog.set_level(logging.INFO, logger="callflow")
    settings = AriSettings(sandbox.ari_url, sandbox.ari_user, "not-the-password", "callflow-x")
    client = AriClient(settings, lambda _event: None)
    client.auth_retry = 0.5
    task = asyncio.create_task(client.run())
    try:
        deadline = time.monotonic() + 10
        while "ARI authentication failed" not in caplog.text:
            assert time.monotonic() < deadline, caplog.text
            await asyncio.sleep(0.05)
    finally:
        await client.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert "HTTP 401" in caplog.text and "not-the-password" not in caplog.text
    assert not client.registered.is_set()


def test_serve_answers_lookups_while_its_ami_login_fails(sandbox, tmp_path):
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    upgrade(url)
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            [Path(sys.executable).with_name("callflow"), "serve", "--db", url,
             "--port", str(port), "--ami", f"{sandbox.ami_host}:{sandbox.ami_port}",
             "--ami-user", sandbox.ami_user, "--ami-secret", "not-the-secret"],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        text = ""
        while "authentication failed" not in text or "FastAGI lookup on" not in text:
            assert proc.poll() is None, f"serve exited: {log_path.read_text()}"
            assert time.monotonic() < deadline, text
            time.sleep(0.1)
            text = log_path.read_text()
    finally:
        proc.terminate()
        proc.wait(10)
    assert "Traceback" not in text and "not-the-secret" not in text
    assert text.count("authentication failed") <= 2  # not a flood
