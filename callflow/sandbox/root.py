"""Build the Asterisk 22 root every sandbox runs from: debootstrap, fix-ups, launcher.

The root is built once into a cache directory and shared, read-only, by every
:class:`~callflow.sandbox.Sandbox`. Its files are Debian's packages and nothing
secret, so it is readable by every user: when root starts a sandbox, its Asterisk runs
as an unprivileged user that must be able to enter it (see :mod:`callflow.sandbox.access`).
"""

from __future__ import annotations

import array
import contextlib
import json
import math
import os
import shutil
import subprocess
import tempfile
import time
import wave
from pathlib import Path

from callflow.sandbox.common import SandboxError, locked, run_step

ROOT_NAME = "asterisk-22-root"
"""Directory name of the built root inside the cache directory."""

SYSTEM_CACHE_DIR = Path("/var/cache/callflow")
"""root's cache: outside /root (mode 0700), so the unprivileged Asterisk can enter it."""

DEBIAN_SUITE = "forky"
DEBIAN_PACKAGES = ("asterisk", "asterisk-modules", "asterisk-core-sounds-en")
_MARKER = ".callflow-root-complete"
LAUNCHER = "usr/sbin/asterisk-callflow"
"""The root's binary, patched to start through the root's own loader and libraries."""
_LAUNCHER_MARKER = ".callflow-launcher"

__all__ = [
    "DEBIAN_PACKAGES",
    "DEBIAN_SUITE",
    "LAUNCHER",
    "ROOT_NAME",
    "SYSTEM_CACHE_DIR",
    "default_cache_dir",
    "fix_launcher",
    "fix_root",
    "launcher_ready",
    "layout",
    "provision",
]


def default_cache_dir() -> Path:
    """The cache directory: ``$CALLFLOW_CACHE``; for root :data:`SYSTEM_CACHE_DIR`
    (``/var/cache/callflow``); otherwise ``~/.cache/callflow``.

    root's own ``~/.cache`` lies behind ``/root`` (mode 0700), where the unprivileged user
    that root's sandboxes run Asterisk as could not read the root's modules and sounds.
    """
    env = os.environ.get("CALLFLOW_CACHE")
    if env:
        return Path(env)
    return SYSTEM_CACHE_DIR if os.geteuid() == 0 else _home_cache()


def _home_cache() -> Path:
    return Path.home() / ".cache" / "callflow"


def provision(cache_dir: Path | str | None = None) -> Path:
    """Return an Asterisk 22 root, building it with debootstrap the first time.

    Building needs root and Debian's package mirror (about 45 s, 500 MB). The build
    goes into a temporary directory beside the final one and is renamed into place
    only once complete, so an interrupted build is never mistaken for a finished one::

        root = provision()                    # ~/.cache/callflow/asterisk-22-root
        root = provision("/tmp/cf-cache")     # somewhere else

    As root, a complete root already built under ``~/.cache/callflow`` (where callflow
    kept it before) is taken over by hard links instead of being built again. The root
    is left readable by every user (it holds only Debian's packages).
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    root = cache / ROOT_NAME
    if (root / _MARKER).exists() and launcher_ready(root) and _open_to_all(root):
        if os.geteuid() == root.stat().st_uid:  # the root's owner keeps it as Debian made it
            remove_stale_sounds(root)
        return root
    cache.mkdir(parents=True, exist_ok=True)
    with locked(cache / ".provision.lock"):
        if not (root / _MARKER).exists() and os.geteuid() == 0:
            _import_home_root(root)
        if (root / _MARKER).exists():  # cached, or another process built it while we waited
            if os.geteuid() == 0 and root.stat().st_uid == 0:
                root.chmod(0o755)  # mkdtemp made it 0700 before callflow opened it
            # a root cached before the launcher existed gets it now; without root rights
            # (or patchelf) it still runs, only `core restart now` is refused (Sandbox.cli)
            with contextlib.suppress(SandboxError, OSError):
                fix_launcher(root)
            return root
        if os.geteuid() != 0:
            raise SandboxError(
                f"provision: building {root} needs root (debootstrap); "
                "run once as root or point CALLFLOW_CACHE at a prepared cache"
            )
        for stale in cache.glob(f".{ROOT_NAME}.build-*"):  # an interrupted build
            _remove_tree(stale)
        build = Path(tempfile.mkdtemp(prefix=f".{ROOT_NAME}.build-", dir=cache))
        try:
            _ensure_debootstrap()
            run_step(
                "debootstrap",
                [
                    "debootstrap",
                    "--variant=minbase",
                    "--include=" + ",".join(DEBIAN_PACKAGES),
                    DEBIAN_SUITE,
                    str(build),
                    *(
                        [os.environ["CALLFLOW_DEBIAN_MIRROR"]]
                        if "CALLFLOW_DEBIAN_MIRROR" in os.environ
                        else []
                    ),
                ],
                timeout=1800,
            )
            fix_root(build)
            build.chmod(0o755)  # mkdtemp's 0700 would keep the unprivileged Asterisk out
            (build / _MARKER).write_text(json.dumps({"built": time.time()}) + "\n")
            if root.exists():  # a leftover without marker: never complete, replace it
                _remove_tree(root)
            build.rename(root)
        except BaseException:
            _remove_tree(build)
            raise
        fix_launcher(root)  # after the rename: the launcher names the root's final path
    return root


def _open_to_all(root: Path) -> bool:
    return root.stat().st_mode & 0o005 == 0o005 or os.geteuid() != 0


def _import_home_root(root: Path) -> None:
    """Take over root's complete root from ``~/.cache/callflow`` by hard links (seconds,
    no space): same files, new directories. The launcher and the markers are not linked,
    they are made anew for the new path, so the old root is never written to."""
    old = _home_cache() / ROOT_NAME
    if not (old / _MARKER).exists() or old.resolve() == root.resolve():
        return
    skip = {_MARKER, _LAUNCHER_MARKER, Path(LAUNCHER).name}
    tmp = Path(tempfile.mkdtemp(prefix=f".{ROOT_NAME}.import-", dir=root.parent))
    try:
        shutil.copytree(
            old,
            tmp / "root",
            symlinks=True,
            copy_function=_link_or_copy,
            ignore=lambda _d, names: [n for n in names if n in skip],
        )
        (tmp / "root").chmod(0o755)
        (tmp / "root" / _MARKER).write_text(
            json.dumps({"built": time.time(), "from": str(old)}) + "\n"
        )
        if root.exists():
            _remove_tree(root)
        (tmp / "root").rename(root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:  # another file system
        shutil.copy2(src, dst, follow_symlinks=False)


def _remove_tree(path: Path) -> None:
    """rmtree that first unmounts what debootstrap may have left mounted inside (/proc,
    /sys, a bind-mounted /dev): deleting through a live mount would delete the host's files.
    """
    prefix = str(path.resolve()) + "/"
    for _ in range(3):
        mounts = sorted(
            (line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()),
            key=len,
            reverse=True,
        )
        inside = [m for m in mounts if m.startswith(prefix)]
        if not inside:
            shutil.rmtree(path, ignore_errors=True)
            return
        for mount in inside:
            subprocess.run(["umount", "-l", mount], capture_output=True, check=False)
    raise SandboxError(f"provision: {path} still has mounts inside; remove it by hand")


def stale_sounds(root: Path) -> list[Path]:
    """Files under the root's sounds directory that no Debian package installed (dpkg's
    ``asterisk*.list``): what earlier callflow versions' test placeholders and imported
    prompts left in the shared root, where they hid missing prompts from every sandbox
    (each sandbox now has sounds of its own: ``Sandbox.sounds_dir``)."""
    sounds = root / "usr/share/asterisk/sounds"
    owned: set[str] = set()
    for listing in (root / "var/lib/dpkg/info").glob("asterisk*.list"):
        owned.update(line.strip() for line in listing.read_text(errors="replace").splitlines())
    stale = []
    for folder, _dirs, files in os.walk(sounds):  # real folders only: links not followed
        for name in files:
            path = Path(folder) / name
            if "/" + str(path.relative_to(root)) not in owned:
                stale.append(path)
    return sorted(stale)


def remove_stale_sounds(root: Path) -> list[Path]:
    """Remove :func:`stale_sounds` (and the folders they leave empty); returns them."""
    stale = stale_sounds(root)
    for path in stale:
        path.unlink(missing_ok=True)
    for folder in sorted({p.parent for p in stale}, key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):  # not empty: other files are still there
            folder.rmdir()
    return stale


def fix_root(root: Path) -> None:
    """Make a debootstrapped root usable from outside a chroot.

    Debian points ``sounds/en`` and ``sounds/en_US`` at ``/etc/alternatives``, which
    would resolve on the host; they become relative links. The ``moh`` directory gets a
    generated hold tone so ``Queue()`` and ``MusicOnHold()`` have something to play.
    """
    layout(root)  # fails early with a clear message when the root is not Asterisk's
    sounds = root / "usr/share/asterisk/sounds"
    voices = sorted(p.name for p in sounds.iterdir() if p.is_dir() and not p.is_symlink())
    if not voices:
        raise SandboxError(f"fix_root: no sound directories in {sounds}")
    voice = "en_US_f_Allison" if "en_US_f_Allison" in voices else voices[0]
    for name in ("en", "en_US"):
        link = sounds / name
        if link.is_symlink() and os.path.isabs(os.readlink(link)):
            link.unlink()
        if not link.exists() and not link.is_symlink():
            link.symlink_to(voice)
    moh = root / "usr/share/asterisk/moh"
    moh.mkdir(parents=True, exist_ok=True)
    if not any(moh.iterdir()):
        _write_hold_tone(moh / "callflow-hold.wav")


def _write_hold_tone(path: Path, seconds: float = 8.0, rate: int = 8000) -> None:
    """A quiet two-note chime, then silence: recognisable as hold music, never loud."""
    samples = array.array("h")
    for i in range(int(seconds * rate)):
        t = i / rate
        phase = t % 4.0
        freq = 523.25 if phase < 0.5 else 659.25 if phase < 1.0 else 0.0
        envelope = 0.0 if freq == 0.0 else math.sin(math.pi * (phase % 0.5) / 0.5)
        samples.append(int(3000 * envelope * math.sin(2 * math.pi * freq * t)))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())


def _launcher_stamp(root: Path) -> str:
    """What the launcher was made from: the root's path (the loader and libraries are
    named absolutely) and the original binary's size and mtime."""
    _loader, binary, _arch = layout(root)
    st = binary.stat()
    return json.dumps({"root": str(root.resolve()), "size": st.st_size, "mtime": st.st_mtime_ns})


def launcher_ready(root: Path) -> bool:
    """Whether ``root`` has an up-to-date :data:`LAUNCHER` (see :func:`fix_launcher`)."""
    try:
        stamp = (root / _LAUNCHER_MARKER).read_text().strip()
        return (root / LAUNCHER).is_file() and stamp == _launcher_stamp(root)
    except (OSError, SandboxError):
        return False


def fix_launcher(root: Path) -> Path:
    """Give ``root`` a copy of its Asterisk binary that starts without help: its ELF
    interpreter is the root's dynamic loader and its RPATH the root's library directories.

    Started through ``ld-linux --library-path`` instead, Asterisk runs, but ``core restart
    now`` re-executes the bare binary with the host's loader, which cannot find
    ``libasteriskpj.so.2`` or the root's newer glibc, and the sandbox dies. The original
    binary is left alone; the copy is made once (a marker says for which root and binary)
    and renamed into place, so sandboxes sharing the cached root never see half of it::

        fix_launcher(provision())   # root/usr/sbin/asterisk-callflow
    """
    launcher = root / LAUNCHER
    if launcher_ready(root):
        return launcher
    loader, binary, arch = layout(root)
    _ensure_patchelf()
    base = root.resolve()
    tmp = launcher.with_name(f".{launcher.name}.{os.getpid()}")
    try:
        shutil.copy2(binary, tmp)
        run_step(
            "fix_launcher",
            [
                "patchelf",
                "--set-interpreter",
                str(base / loader.relative_to(root)),
                "--force-rpath",  # DT_RPATH, not RUNPATH: it also serves the libraries' needs
                "--set-rpath",
                f"{base}/usr/lib/{arch}:{base}/lib/{arch}",
                str(tmp),
            ],
            timeout=60,
        )
        version = run_step("fix_launcher", [str(tmp), "-V"], timeout=30)
        if not version.startswith("Asterisk "):
            raise SandboxError(f"fix_launcher: the patched binary says {version.strip()!r}")
        os.replace(tmp, launcher)
    finally:
        tmp.unlink(missing_ok=True)
    (root / _LAUNCHER_MARKER).write_text(_launcher_stamp(root) + "\n")
    return launcher


def _ensure_patchelf() -> None:
    if shutil.which("patchelf") is None:
        run_step("apt-get update", ["apt-get", "update"], timeout=600)
        run_step("apt-get install patchelf", ["apt-get", "install", "-y", "patchelf"], timeout=600)


def _ensure_debootstrap() -> None:
    if shutil.which("debootstrap") is None:
        run_step("apt-get update", ["apt-get", "update"], timeout=600)
        run_step(
            "apt-get install debootstrap",
            ["apt-get", "install", "-y", "debootstrap"],
            timeout=600,
        )
    scripts = Path("/usr/share/debootstrap/scripts")
    if not (scripts / DEBIAN_SUITE).exists():
        # bookworm's debootstrap predates forky; forky bootstraps exactly like sid.
        (scripts / DEBIAN_SUITE).symlink_to("sid")


def layout(root: Path) -> tuple[Path, Path, str]:
    """(dynamic loader, asterisk binary, multiarch name) of a root."""
    binary = root / "usr/sbin/asterisk"
    arches = sorted(p.parent.parent.name for p in root.glob("usr/lib/*/asterisk/modules"))
    loaders = sorted(root.glob(f"usr/lib/{arches[0]}/ld-linux*.so.*")) if arches else []
    if not binary.exists() or not arches or not loaders:
        raise SandboxError(f"{root} is not an Asterisk root (no usr/sbin/asterisk or modules)")
    return loaders[0], binary, arches[0]
