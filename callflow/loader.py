"""Find the :class:`~callflow.Site` a user points the CLI at.

``examples/four_s_dealer.py`` (the file's ``site`` variable), ``path.py:name`` (another
variable, or a function returning a site) or ``package.module:name``::

    site = load_site("examples/four_s_dealer.py")
"""

from __future__ import annotations

import importlib
import runpy
from pathlib import Path
from typing import Any

from callflow.errors import SiteLoadError
from callflow.model.site import Site


def load_site(spec: str) -> Site:
    """Load a site from ``file.py[:name]`` or ``module:name``; SiteLoadError says why not."""
    source, _, name = spec.partition(":")
    namespace: dict[str, Any]
    if source.endswith(".py") or Path(source).exists():
        path = Path(source)
        if not path.is_file():
            raise SiteLoadError(f"{spec}: no such file")
        try:
            namespace = runpy.run_path(str(path), run_name=f"callflow_site_{path.stem}")
        except Exception as exc:
            raise SiteLoadError(f"{spec}: the file raised {type(exc).__name__}: {exc}") from exc
    else:
        if not name:
            raise SiteLoadError(f"{spec}: use a .py file or module:name")
        try:
            namespace = vars(importlib.import_module(source))
        except Exception as exc:
            raise SiteLoadError(f"{spec}: cannot import {source!r}: {exc}") from exc
    name = name or "site"
    if name not in namespace:
        raise SiteLoadError(f"{spec}: defines no {name!r} (set `{name} = Site(...)`)")
    value = namespace[name]
    if callable(value) and not isinstance(value, Site):
        value = value()
    if not isinstance(value, Site):
        raise SiteLoadError(f"{spec}: {name!r} is a {type(value).__name__}, not a callflow Site")
    return value
