"""Every module of callflow has a place in the layering contract, and the examples use
only the public API (they ship as callflow.examples, outside what lint-imports sees)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: not code, or the package itself
UNLAYERED = {"__init__", "py.typed", "sandbox_templates", "__pycache__"}


def layered_modules() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    [layers] = [
        c["layers"]
        for c in config["tool"]["importlinter"]["contracts"]
        if c["name"] == "Layers point one way"
    ]
    return {name.strip() for layer in layers for name in layer.split("|")}


def test_every_top_level_module_is_in_a_layer():
    present = {
        f"callflow.{path.stem}"
        for path in (ROOT / "callflow").iterdir()
        if path.stem not in UNLAYERED and (path.suffix == ".py" or (path / "__init__.py").exists())
    }
    missing = sorted(present - layered_modules())
    assert not missing, (
        f"{', '.join(missing)}: in no layer of the 'Layers point one way' contract "
        "(pyproject.toml [tool.importlinter]); place each where its imports say it belongs"
    )


def test_examples_import_only_the_public_api():
    for path in sorted((ROOT / "examples").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("callflow"):
                assert node.module == "callflow", f"{path.name}: imports {node.module}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("callflow."), f"{path.name}: {alias.name}"
