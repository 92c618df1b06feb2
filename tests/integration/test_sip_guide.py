"""docs/phones.md ("from zero to ringing phones") runs as written, up to the carrier.

Its Python blocks make the site, its compile command runs through the real CLI, the
compiled pjsip.conf holds secret placeholders, and its secrets file example is what the
secrets loader reads. The SIP part (register, ring, voicemail) is test_sip_4s.py and
test_phones.py on a real Asterisk.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from callflow.compiler.secrets import load_secrets

GUIDE = Path(__file__).parents[2] / "docs" / "phones.md"


def blocks(kind: str) -> list[str]:
    return re.findall(rf"(?ms)^ *```{kind}\n(.*?)^ *```", GUIDE.read_text())


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
    [secrets_block] = [b for b in blocks("text") if "staff.lily" in b]
    secrets_file = tmp_path / "shop.secrets"
    secrets_file.write_text(re.sub(r"(?m)^\s+", "", secrets_block))
    os.chmod(secrets_file, 0o600)
    found = load_secrets(["staff.lily", "staff.wang"], file=secrets_file, environ={})
    assert found == {"staff.lily": "8f3b2c9d1e", "staff.wang": "41c7aa02f9"}
