"""IR -> configuration text, through the Jinja2 templates shipped in the package."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

import jinja2

from callflow.compiler.ir import CompiledSite, SecretRef, Section
from callflow.compiler.secrets import placeholder
from callflow.model.limits import CONFIG_LINE_BYTES

FILES = ("extensions.conf", "queues.conf", "voicemail.conf", "pjsip.conf", "musiconhold.conf")
#: the generated files that hold secrets: written 0600, never committed with them
SECRET_FILES = frozenset({"pjsip.conf"})


class RenderError(ValueError):
    """The IR holds text that cannot be written safely (a bug in the compiler)."""


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("callflow.compiler", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - config files, not HTML; values are escaped in IR
    )


def render(compiled: CompiledSite, secrets: Mapping[str, str] | None = None) -> dict[str, str]:
    """The text of each generated file, by file name. Without ``secrets`` pjsip.conf
    holds placeholders (``SECRET(staff.ann)``) where passwords go."""
    env = _environment()
    values = {
        "site": compiled.site,
        "contexts": compiled.contexts,
        "queues": compiled.queues,
        "mailboxes": compiled.mailboxes,
    }
    sections = {
        "pjsip.conf": _filled(compiled.pjsip, secrets or {}),
        "musiconhold.conf": _filled(compiled.moh, {}),
    }
    out = {
        name: env.get_template(f"{name}.j2").render({**values, "sections": sections.get(name)})
        for name in FILES
    }
    for name, text in out.items():
        _check_lines(name, text)
    return out


def _filled(sections: tuple[Section, ...], secrets: Mapping[str, str]) -> list[Section]:
    return [
        Section(
            s.name,
            tuple(
                (k, secrets.get(v.name, placeholder(v.name)) if isinstance(v, SecretRef) else v)
                for k, v in s.settings
            ),
            s.comment,
        )
        for s in sections
    ]


def _check_lines(name: str, text: str) -> None:
    """Defence in depth: every line, as Asterisk splits them (at ``\\n`` only), must be a
    section, a comment, or a setting, and fit Asterisk's line buffer."""
    for number, line in enumerate(text.split("\n"), 1):
        if line and not (line.startswith(("[", ";")) or "=" in line):
            raise RenderError(f"{name}:{number}: unexpected line {line[:80]!r}")
        if "\r" in line or "\x00" in line:
            raise RenderError(f"{name}:{number}: carriage return or NUL in output")
        size = len(line)
        if not line.isascii():
            try:
                size = len(line.encode("utf-8"))
            except UnicodeEncodeError as exc:
                raise RenderError(f"{name}:{number}: not UTF-8 text ({exc.reason})") from exc
        if size > CONFIG_LINE_BYTES:
            raise RenderError(
                f"{name}:{number}: line of {size} bytes; Asterisk skips lines over "
                f"{CONFIG_LINE_BYTES}"
            )
