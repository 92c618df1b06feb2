"""Secrets: the passwords of staff phones and trunks, never in the site file or the repo.

Each secret has a name (``staff.<id>``, ``trunk.<id>``) and comes from, in this order:

1. the environment: ``CALLFLOW_SECRET_STAFF_ANN`` for ``staff.ann`` (upper case, ``.`` -> ``_``);
2. a secrets file (``--secrets FILE`` or ``$CALLFLOW_SECRETS``), outside the repository,
   readable by its owner only (mode 0600), one ``name = value`` per line, ``#`` comments::

       staff.ann = 8f3b...
       trunk.carrier = s3cret

Compiling without secrets writes placeholders (what ``dialplans/`` commits); deploy
needs every secret and says which are missing (CF307)::

    secrets = load_secrets(compiled.secrets, file=Path("/etc/callflow/shop.secrets"))
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

from callflow.errors import CallflowError

#: the environment variable naming the secrets file
SECRETS_FILE_VAR = "CALLFLOW_SECRETS"
ENV_PREFIX = "CALLFLOW_SECRET_"
#: what a secret may hold: printable, no spaces, no config-file specials (; [ ] = ,)
VALUE = re.compile(r"[A-Za-z0-9!$%&()*+./:<>?@^_{|}~-]{8,128}")
LINE = re.compile(r"\s*([a-z]+\.[a-z][a-z0-9_]{0,31})\s*=\s*(\S*)\s*")
#: the mode of generated files that hold secrets (Asterisk's group may read them, see
#: :func:`secret_mode`)
SECRET_FILE_MODE = 0o600


class SecretsError(CallflowError, ValueError):
    """Secrets are missing or unusable; one line per problem, each with its code."""


def env_name(name: str) -> str:
    """``staff.ann`` -> ``CALLFLOW_SECRET_STAFF_ANN``."""
    return ENV_PREFIX + name.upper().replace(".", "_")


def placeholder(name: str) -> str:
    """What a compiled file without secrets holds instead of one (deploy refuses it)."""
    return f"SECRET({name})"


def load_secrets(
    names: Iterable[str],
    *,
    file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The value of each of ``names``; :class:`SecretsError` lists every missing one."""
    env = os.environ if environ is None else environ
    wanted = sorted(set(names))
    if not wanted:
        return {}
    path = file or (Path(env[SECRETS_FILE_VAR]) if env.get(SECRETS_FILE_VAR) else None)
    from_file = _read_file(path) if path is not None else {}
    found: dict[str, str] = {}
    problems = []
    for name in wanted:
        value = env.get(env_name(name), from_file.get(name))
        where = f"${env_name(name)}" if env_name(name) in env else f"{path}"
        if value is None:
            source = f"${env_name(name)} or a line '{name} = ...' in " + (
                str(path) if path else f"the file ${SECRETS_FILE_VAR} names"
            )
            problems.append(f"secret {name}: not set ({source}) [CF307]")
        elif not VALUE.fullmatch(value):
            problems.append(
                f"secret {name} (from {where}): 8-128 characters without spaces, ';', ',', "
                "'=', '[', ']', quotes or '#' [CF307]"
            )
        else:
            found[name] = value
    if problems:
        raise SecretsError("\n".join(problems))
    return found


def _read_file(path: Path) -> dict[str, str]:
    try:
        info = path.stat()
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretsError(f"secrets file {path}: cannot read it ({exc}) [CF307]") from exc
    if info.st_mode & 0o077:
        raise SecretsError(
            f"secrets file {path}: mode {stat.filemode(info.st_mode)} lets others read it; "
            f"chmod 600 {path} [CF307]"
        )
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = LINE.fullmatch(line)
        if match is None:
            raise SecretsError(
                f"secrets file {path}:{number}: expected 'name = value' "
                "(name like staff.ann or trunk.carrier) [CF307]"
            )
        out[match.group(1)] = match.group(2)
    return out


def secret_mode(directory: Path) -> tuple[int, int]:
    """The mode and group for a secret-bearing file in ``directory``: 0600 when the
    writer is the directory's group (Asterisk reads as us), else 0640 to the directory's
    group (Asterisk reads its configuration through it); -1: leave the group."""
    try:
        group = directory.stat().st_gid
    except OSError:
        return SECRET_FILE_MODE, -1
    if group == os.getegid():
        return SECRET_FILE_MODE, -1
    return 0o640, group
