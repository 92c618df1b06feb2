"""docs/phones.md ("from zero to ringing phones") runs as written, up to the carrier.

Its Python blocks make the site, its compile command runs through the real CLI, the
compiled pjsip.conf holds secret placeholders, and its secrets file example is what the
secrets loader reads. The SIP part (register, ring, voicemail) is test_sip_4s.py and
test_phones.py on a real Asterisk. Its deploy step runs as written against the sandbox
Asterisk, then its ``pjsip show endpoints`` check.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from callflow.compiler.secrets import load_secrets
from callflow.loader import load_site
from callflow.sandbox import Sandbox, SandboxError
from callflow.testing import install_placeholder_prompts

from .conftest import sandbox_unavailable
from .sites import free_port

GUIDE = Path(__file__).parents[2] / "docs" / "phones.md"


def blocks(kind: str) -> list[str]:
    return re.findall(rf"(?ms)^ *```{kind}\n(.*?)^ *```", GUIDE.read_text())


def commands_after(prefix: str) -> list[str]:
    """The guide's shell commands (``$ ...`` lines) from the one starting ``prefix`` on."""
    lines = [
        line.removeprefix("$ ")
        for block in blocks("console")
        for line in block.splitlines()
        if line.startswith("$ ")
    ]
    return lines[next(i for i, line in enumerate(lines) if line.startswith(prefix)) :]


def secrets_text() -> str:
    [secrets_block] = [b for b in blocks("text") if "staff.lily" in b]
    return re.sub(r"(?m)^\s+", "", secrets_block)


def test_the_guide_compiles_a_site_with_placeholders_and_reads_its_secrets(
    tmp_path: Path,
) -> None:
    python = blocks("python")
    assert len(python) >= 3
    (tmp_path / "shop.py").write_text("\n".join(python))
    commands = [
        line.removeprefix("$ ")
        for block in blocks("console")
        for line in block.splitlines()
        if line.startswith("$ callflow compile")
    ]
    assert commands == ["callflow compile shop.py -o out/"]
    cli = Path(sys.executable).with_name("callflow")
    for command in commands:
        argv = [str(cli), *shlex.split(command)[1:]]
        done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
    pjsip = (tmp_path / "out" / "pjsip.conf").read_text()
    assert "password = SECRET(staff.lily)" in pjsip
    assert "password = SECRET(staff.wang)" in pjsip
    secrets_file = tmp_path / "shop.secrets"
    secrets_file.write_text(secrets_text())
    os.chmod(secrets_file, 0o600)
    found = load_secrets(["staff.lily", "staff.wang"], file=secrets_file, environ={})
    assert found == {"staff.lily": "8f3b2c9d1e", "staff.wang": "41c7aa02f9"}


@pytest.fixture
def fresh_pbx(asterisk_root: Path) -> Iterator[Sandbox]:
    """A sandbox of its own: the guide's trunk keeps trying to register after the test,
    which must not reach the session's shared sandbox (nor its later log checks)."""
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


@pytest.mark.asterisk
def test_the_guides_deploy_commands_run_against_a_sandbox(
    fresh_pbx: Sandbox, tmp_path: Path
) -> None:
    sandbox = fresh_pbx
    # the guide's own commands from its deploy step on, up to the carrier
    commands = commands_after("export CALLFLOW_SECRETS=")
    assert commands == [
        "export CALLFLOW_SECRETS=/etc/callflow/shop.secrets",
        "callflow deploy shop.py --asterisk-etc /etc/asterisk",
        'asterisk -rx "pjsip show endpoints"',
    ]
    # The carrier: a loopback UDP port held open that never answers (no ICMP errors)
    # (sip.carrier.example does not resolve, and Asterisk refuses an identify it cannot
    # resolve; registering is the part that needs a real carrier).
    carrier = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    carrier.bind(("127.0.0.1", 0))
    carrier_port = carrier.getsockname()[1]
    port = free_port()
    # Substituted for the sandbox, and only these: the carrier's address (above), the
    # site's SIP port (5060 on 0.0.0.0 in the guide; a free loopback port here, 5060 may
    # be another Asterisk's), where the secrets file is, and the target: --asterisk-etc
    # <the sandbox's etc> with the sandbox's CLI (--asterisk-cmd) and its log (--log-file:
    # deploy fails on the warnings and errors Asterisk logs while loading the files).
    site_py = (
        "\n".join(blocks("python"))
        .replace("Phones(port=5060)", f'Phones(bind="127.0.0.1", port={port})')
        .replace('host="sip.carrier.example",', f'host="127.0.0.1", port={carrier_port},')
    )
    assert f"port={port}" in site_py and f"port={carrier_port}" in site_py
    (tmp_path / "shop.py").write_text(site_py)
    secrets_file = tmp_path / "shop.secrets"
    secrets_file.write_text(secrets_text())
    os.chmod(secrets_file, 0o600)
    # the guide's menu prompt (custom/menu) stands in as a silent recording in the
    # sandbox's own sounds: deploy refuses a site whose prompts are missing
    install_placeholder_prompts(sandbox, load_site(str(tmp_path / "shop.py")))
    target = shlex.join(
        [
            "--asterisk-etc",
            str(sandbox.etc_dir),
            "--asterisk-cmd",
            shlex.join(sandbox.asterisk_command()),
            "--log-file",
            str(sandbox.messages_log),
        ]
    )
    env = dict(os.environ)
    cli = Path(sys.executable).with_name("callflow")
    for command in commands:
        if command.startswith("export "):
            name, _, _value = command.removeprefix("export ").partition("=")
            env[name] = str(secrets_file)
        elif command.startswith("callflow deploy "):
            argv = [
                str(cli),
                *shlex.split(command.replace("--asterisk-etc /etc/asterisk", target))[1:],
            ]
            done = subprocess.run(
                argv, cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=60
            )
            assert done.returncode == 0, done.stdout + done.stderr
            assert re.search(r"(?m)^shop: deployed version \d+", done.stdout), done.stdout
            assert "warning" not in done.stdout + done.stderr, done.stdout + done.stderr
            print(done.stdout)
        else:
            [_, option, cli_command] = shlex.split(command)
            assert option == "-rx"
            endpoints = sandbox.cli(cli_command)
            print(endpoints)
            # every endpoint the guide's site defines, and no other: the two staff
            # phones (not registered yet) and the trunk
            names = re.findall(r"(?m)^\s*Endpoint:\s+([^<\s/]+)", endpoints)
            assert sorted(names) == ["1001", "2001", "callflow-shop-carrier"], endpoints
            assert "Objects found: 3" in endpoints
    # the trunk's registration to the carrier is configured as the guide's username: all
    # that is left is a carrier that answers it
    registrations = sandbox.cli("pjsip show registrations")
    print(registrations)
    carrier.close()
    assert re.search(
        rf"(?m)^\s*callflow-shop-carrier/sip:127\.0\.0\.1:{carrier_port}\s", registrations
    ), registrations
