"""The package as integrators install it: a wheel in a fresh virtualenv.

The wheel is built from a copy of the tracked files (nothing left over in the checkout
gets in), installed into a new venv with its dependencies from the package index, and
its ``callflow`` command runs outside the checkout: ``--version``, ``validate`` on the
packaged example, ``demo --dry-run`` (no Asterisk) and the real demo on the sandbox.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str | Path, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The ``bin`` directory of a fresh venv with the wheel installed."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    built = run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", tmp / "dist",
                source, cwd=tmp)  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp / "dist").glob("asterisk_callflow-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(f"{wheel.name.split('-')[0]}-0.1.0.dist-info/METADATA").decode()
    assert "License-Expression: Apache-2.0" in metadata  # SPDX form, not the deprecated table
    venv.create(tmp / "venv", with_pip=True)
    bin_dir = tmp / "venv" / "bin"
    done = run(bin_dir / "python", "-m", "pip", "install", "-q", wheel, cwd=tmp)
    assert done.returncode == 0, done.stderr
    yield bin_dir


def test_the_installed_command_validates_the_packaged_example(installed, tmp_path):
    version = run(installed / "callflow", "--version", cwd=tmp_path)
    assert version.returncode == 0 and "0.1.0" in version.stdout, version
    # the example comes from the installed package, not from the checkout
    located = run(installed / "python", "-c",
                  "from callflow.demo import EXAMPLE; print(EXAMPLE)", cwd=tmp_path)  # fmt: skip
    example = Path(located.stdout.strip())
    assert example.is_file() and installed.parent in example.parents, located
    assert example.read_bytes() == (ROOT / "examples" / "four_s_dealer.py").read_bytes()
    checked = run(installed / "callflow", "validate", example, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_demo_dry_run_loads_the_packaged_site_and_csvs(installed, tmp_path):
    demo = run(installed / "callflow", "demo", "--dry-run", cwd=tmp_path)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "four_s_customers.csv: 10 inserted, 0 updated, 0 unchanged, 0 errors" in demo.stdout
    assert "-> queue:vip_sales (path manager)" in demo.stdout
    assert "-> voicemail:3000" in demo.stdout
    assert "Traceback" not in demo.stderr


@pytest.mark.asterisk
def test_the_installed_demo_runs_on_the_sandbox(installed, tmp_path, asterisk_root):
    demo = run(installed / "callflow", "demo", cwd=tmp_path, timeout=180)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "queue:vip_sales" in demo.stdout
    assert "call records in the store (6)" in demo.stdout
    # it ends with the report (in the working directory) and the summary
    report = tmp_path / "demo-report.html"
    assert report.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    last = demo.stdout.strip().splitlines()[-4:]
    assert last[0].startswith(f"report: {report} (star_motors, "), last
    assert last[1].startswith("effective calls per agent (talk >= 10 s, "), last
    assert last[3].startswith("VIP vs standard average wait: "), last


def test_every_package_is_listed_for_the_wheel():
    """pyproject lists packages (examples/ is mapped in): a new one must be listed too."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for path in (ROOT / "callflow").rglob("__init__.py")
    }
    assert set(config["packages"]) == found | {"callflow.examples"}
    assert config["package-dir"] == {"callflow.examples": "examples"}
