"""Find the :class:`~callflow.Site` a user points the CLI at.

``examples/four_s_dealer.py`` (the file's ``site`` variable), ``path.py:name`` (another
variable, or a function returning a site) or ``package.module:name``::

    site = load_site("examples/four_s_dealer.py")
"""

from __future__ import annotations

import importlib
import runpy
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from callflow.errors import SiteLoadError
from callflow.model.site import Site


def load_site(spec: str) -> Site:
    """Load a site from ``file.py[:name]`` or ``module:name``; SiteLoadError says why not.

    Whatever goes wrong in the user's code (an exception, ``sys.exit()``, a factory that
    raises) is one SiteLoadError naming the file and the exception, never a traceback."""
    source, _, name = spec.partition(":")
    namespace: dict[str, Any]
    if not source.strip():
        raise SiteLoadError(f"{spec!r}: no site given; use file.py[:name] or module:name")
    if source.endswith(".py") or Path(source).exists():
        path = Path(source)
        if not path.is_file():
            what = "is a directory, not a .py file" if path.is_dir() else "no such file"
            raise SiteLoadError(f"{source}: {what}")
        namespace = _run(
            spec,
            f"{source}: the file",
            runpy.run_path,
            str(path),
            run_name=f"callflow_site_{path.stem}",
        )
    else:
        if not name:
            raise SiteLoadError(f"{spec}: no such file; use file.py[:name] or module:name")
        namespace = vars(_run(spec, f"{source}: importing it", importlib.import_module, source))
    name = name or "site"
    if name not in namespace:
        raise SiteLoadError(f"{spec}: defines no {name!r} (set `{name} = Site(...)`)")
    value = namespace[name]
    if callable(value) and not isinstance(value, Site):
        value = _run(spec, f"{spec}: calling {name}()", value)
    if not isinstance(value, Site):
        raise SiteLoadError(f"{spec}: {name!r} is a {type(value).__name__}, not a callflow Site")
    return value


def _run(spec: str, doing: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run user code; turn anything it raises, exits included, into SiteLoadError."""
    try:
        return func(*args, **kwargs)
    except SystemExit as exc:
        raise SiteLoadError(
            f"{doing} called sys.exit({exc.code!r}); a site file must not exit"
        ) from exc
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        where = _where(exc, spec)
        raise SiteLoadError(f"{doing} raised {type(exc).__name__}: {exc}{where}") from exc


def _where(exc: BaseException, spec: str) -> str:
    """`` (line N)`` of the innermost frame in the site's own file, if any."""
    if isinstance(exc, SyntaxError) and exc.lineno is not None:
        return ""  # its message already says where
    source = spec.partition(":")[0]
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if Path(frame.f_code.co_filename).resolve() == Path(source).resolve():
            line = lineno
    return "" if line is None else f" (line {line})"
