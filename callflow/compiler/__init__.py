"""Compile a site to Asterisk configuration: model -> typed IR -> Jinja2 templates.

compiled = compile_site(site)             # validates first
compiled.files["extensions.conf"]         # the text, byte-identical for the same site
write(compiled, Path("out"))
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from callflow.compiler.dialplan import build, context_name, queue_name
from callflow.compiler.ir import CompiledSite
from callflow.compiler.render import FILES, SECRET_FILES, render
from callflow.compiler.secrets import SECRET_FILE_MODE
from callflow.model.site import Site
from callflow.validate import check

__all__ = [
    "FILES",
    "SECRET_FILES",
    "CompiledSite",
    "compile_site",
    "context_name",
    "queue_name",
    "with_secrets",
    "write",
]


def compile_site(site: Site, secrets: Mapping[str, str] | None = None) -> CompiledSite:
    """Validate ``site`` (raising :class:`~callflow.errors.ValidationError` listing every
    problem) and compile it; the result carries the rendered files. ``secrets`` (see
    :mod:`callflow.compiler.secrets`) fill pjsip.conf's passwords; without them it holds
    placeholders."""
    with _collector_paused():
        check(site)
        return with_secrets(build(site), secrets)


def with_secrets(compiled: CompiledSite, secrets: Mapping[str, str] | None) -> CompiledSite:
    """``compiled`` rendered again with ``secrets`` filling pjsip.conf's passwords (None:
    placeholders); the contexts are not compiled again."""
    return dataclasses.replace(compiled, files=render(compiled, secrets))


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Validating and compiling allocate a few objects per node and per dialplan line and
    free none of them until done, so the cyclic garbage collector only rescans a growing
    heap: pausing it saves about a third of a large site's time (benchmarks/compile.py)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def write(compiled: CompiledSite, directory: Path) -> list[Path]:
    """Write the compiled files into ``directory``, each atomically (temp file + rename);
    mode 0600 (pjsip.conf holds secrets)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in sorted(compiled.files.items()):
        target = directory / name
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            os.fchmod(fh.fileno(), SECRET_FILE_MODE)  # pjsip.conf holds secrets; all 0600
            fh.write(text)
        os.replace(tmp, target)
        written.append(target)
    return written
