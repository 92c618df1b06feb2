"""Provision and run an isolated Asterisk 22 for tests and demos.

An Asterisk root is built once with debootstrap into a cache directory; every
:class:`Sandbox` then runs that Asterisk from its own short work directory, with its
own configuration, loopback-only ports and credentials, so several can run at once
without touching the host's ``/etc/asterisk``::

    with Sandbox() as pbx:
        print(pbx.cli("core show version"))
        assert pbx.problems_since(0) == []

``up()``/``attach()``/``down()``/``status()`` keep one sandbox running across processes
for the ``callflow sandbox`` command.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import json
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import wave
import weakref
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2

ROOT_NAME = "asterisk-22-root"
"""Directory name of the built root inside the cache directory."""

DEFAULT_STATE_DIR = Path("/tmp/callflow-sandbox")  # noqa: S108 - short on purpose (socket path)
"""Where ``up()`` runs the persistent sandbox; short, because the control socket lives there."""

DEBIAN_SUITE = "forky"
DEBIAN_PACKAGES = ("asterisk", "asterisk-modules", "asterisk-core-sounds-en")
_MARKER = ".callflow-root-complete"
LAUNCHER = "usr/sbin/asterisk-callflow"
"""The root's binary, patched to start through the root's own loader and libraries."""
_LAUNCHER_MARKER = ".callflow-launcher"
_STATE_FILE = "sandbox.json"

# Loaded explicitly (autoload = no): a fixed list boots in about a second and logs nothing
# at WARNING or above. Module dependencies must be listed too.
MODULES: tuple[str, ...] = (
    # core plumbing
    "res_timing_timerfd.so",
    "res_sorcery_config.so",
    "res_sorcery_memory.so",
    "res_sorcery_astdb.so",
    "pbx_config.so",
    "res_clioriginate.so",
    # applications
    "app_dial.so",
    "app_queue.so",
    "app_voicemail.so",
    "app_playback.so",
    "app_read.so",
    "app_readexten.so",
    "app_record.so",
    "app_senddtmf.so",
    "app_stack.so",
    "app_exec.so",
    "app_userevent.so",
    "app_mixmonitor.so",
    "app_verbose.so",
    "app_echo.so",
    "app_milliwatt.so",
    "app_playtones.so",
    "app_originate.so",
    "app_softhangup.so",
    "app_chanisavail.so",
    "app_channelredirect.so",
    "app_transfer.so",
    "app_blind_transfer.so",
    "app_waituntil.so",
    "app_while.so",
    "app_sayunixtime.so",
    "app_stasis.so",
    # ARI and its HTTP transport
    "res_http_websocket.so",
    "res_websocket_client.so",
    "res_stasis.so",
    "res_stasis_answer.so",
    "res_stasis_playback.so",
    "res_stasis_recording.so",
    "res_stasis_snoop.so",
    "res_stasis_device_state.so",
    "res_ari.so",
    "res_ari_model.so",
    "res_ari_applications.so",
    "res_ari_asterisk.so",
    "res_ari_bridges.so",
    "res_ari_channels.so",
    "res_ari_device_states.so",
    "res_ari_endpoints.so",
    "res_ari_events.so",
    "res_ari_playbacks.so",
    "res_ari_recordings.so",
    "res_ari_sounds.so",
    # AGI, music on hold
    "res_speech.so",
    "res_agi.so",
    "res_musiconhold.so",
    # PJSIP, so that sites can dial PJSIP/<device> (no transport: nothing listens)
    "res_pjproject.so",
    "res_rtp_asterisk.so",
    "res_pjsip.so",
    "res_pjsip_session.so",
    "res_pjsip_pubsub.so",
    "res_pjsip_sdp_rtp.so",
    "res_pjsip_caller_id.so",
    "res_pjsip_header_funcs.so",
    "res_pjsip_dtmf_info.so",
    "res_pjsip_diversion.so",
    "res_pjsip_nat.so",
    "res_pjsip_rfc3326.so",
    "res_pjsip_authenticator_digest.so",
    "res_pjsip_outbound_authenticator_digest.so",
    "res_pjsip_endpoint_identifier_user.so",
    "chan_pjsip.so",
    # functions
    "func_logic.so",
    "func_strings.so",
    "func_base64.so",
    "func_channel.so",
    "func_callerid.so",
    "func_devstate.so",
    "func_dialplan.so",
    "func_timeout.so",
    "func_global.so",
    "func_cut.so",
    "func_hangupcause.so",
    "func_math.so",
    "func_rand.so",
    "func_db.so",
    "func_env.so",
    "func_export.so",
    "func_extstate.so",
    "func_groupcount.so",
    "func_json.so",
    "func_sprintf.so",
    "func_uri.so",
    "func_version.so",
    "func_vmcount.so",
    "func_sayfiles.so",
    "func_pjsip_endpoint.so",
    # codecs, formats, bridges
    "codec_ulaw.so",
    "codec_alaw.so",
    "codec_a_mu.so",
    "codec_gsm.so",
    "codec_resample.so",
    "format_gsm.so",
    "format_wav.so",
    "format_wav_gsm.so",
    "format_pcm.so",
    "format_sln.so",
    "bridge_simple.so",
    "bridge_softmix.so",
    "bridge_holding.so",
    "bridge_native_rtp.so",
    "bridge_builtin_features.so",
    "bridge_builtin_interval_features.so",
)

_BOOT_TIMEOUT = 30.0
_CLI_TIMEOUT = 20.0


class SandboxError(RuntimeError):
    """Provisioning or running the sandbox failed; the message names the step."""


# --------------------------------------------------------------------------- provisioning


def default_cache_dir() -> Path:
    """The cache directory: ``$CALLFLOW_CACHE`` or ``~/.cache/callflow``."""
    env = os.environ.get("CALLFLOW_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "callflow"


def provision(cache_dir: Path | str | None = None) -> Path:
    """Return an Asterisk 22 root, building it with debootstrap the first time.

    Building needs root and Debian's package mirror (about 45 s, 500 MB). The build
    goes into a temporary directory beside the final one and is renamed into place
    only once complete, so an interrupted build is never mistaken for a finished one::

        root = provision()                    # ~/.cache/callflow/asterisk-22-root
        root = provision("/tmp/cf-cache")     # somewhere else
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    root = cache / ROOT_NAME
    if (root / _MARKER).exists() and launcher_ready(root):
        return root
    cache.mkdir(parents=True, exist_ok=True)
    with _locked(cache / ".provision.lock"):
        if (root / _MARKER).exists():  # cached, or another process built it while we waited
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
            _run(
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
            (build / _MARKER).write_text(json.dumps({"built": time.time()}) + "\n")
            if root.exists():  # a leftover without marker: never complete, replace it
                _remove_tree(root)
            build.rename(root)
        except BaseException:
            _remove_tree(build)
            raise
        fix_launcher(root)  # after the rename: the launcher names the root's final path
    return root


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


def fix_root(root: Path) -> None:
    """Make a debootstrapped root usable from outside a chroot.

    Debian points ``sounds/en`` and ``sounds/en_US`` at ``/etc/alternatives``, which
    would resolve on the host; they become relative links. The ``moh`` directory gets a
    generated hold tone so ``Queue()`` and ``MusicOnHold()`` have something to play.
    """
    _layout(root)  # fails early with a clear message when the root is not Asterisk's
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
    _loader, binary, _arch = _layout(root)
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
    loader, binary, arch = _layout(root)
    _ensure_patchelf()
    base = root.resolve()
    tmp = launcher.with_name(f".{launcher.name}.{os.getpid()}")
    try:
        shutil.copy2(binary, tmp)
        _run(
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
        version = _run("fix_launcher", [str(tmp), "-V"], timeout=30)
        if not version.startswith("Asterisk "):
            raise SandboxError(f"fix_launcher: the patched binary says {version.strip()!r}")
        os.replace(tmp, launcher)
    finally:
        tmp.unlink(missing_ok=True)
    (root / _LAUNCHER_MARKER).write_text(_launcher_stamp(root) + "\n")
    return launcher


def _ensure_patchelf() -> None:
    if shutil.which("patchelf") is None:
        _run("apt-get update", ["apt-get", "update"], timeout=600)
        _run("apt-get install patchelf", ["apt-get", "install", "-y", "patchelf"], timeout=600)


def _ensure_debootstrap() -> None:
    if shutil.which("debootstrap") is None:
        _run("apt-get update", ["apt-get", "update"], timeout=600)
        _run(
            "apt-get install debootstrap",
            ["apt-get", "install", "-y", "debootstrap"],
            timeout=600,
        )
    scripts = Path("/usr/share/debootstrap/scripts")
    if not (scripts / DEBIAN_SUITE).exists():
        # bookworm's debootstrap predates forky; forky bootstraps exactly like sid.
        (scripts / DEBIAN_SUITE).symlink_to("sid")


def _run(step: str, argv: Sequence[str], *, timeout: float) -> str:
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxError(f"{step}: {' '.join(argv)} failed: {exc}") from exc
    if done.returncode != 0:
        tail = _tail(done.stdout + done.stderr)
        raise SandboxError(f"{step}: {' '.join(argv)} exited {done.returncode}:\n{tail}")
    return done.stdout


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _layout(root: Path) -> tuple[Path, Path, str]:
    """(dynamic loader, asterisk binary, multiarch name) of a root."""
    binary = root / "usr/sbin/asterisk"
    arches = sorted(p.parent.parent.name for p in root.glob("usr/lib/*/asterisk/modules"))
    loaders = sorted(root.glob(f"usr/lib/{arches[0]}/ld-linux*.so.*")) if arches else []
    if not binary.exists() or not arches or not loaders:
        raise SandboxError(f"{root} is not an Asterisk root (no usr/sbin/asterisk or modules)")
    return loaders[0], binary, arches[0]


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# --------------------------------------------------------------------------- running


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def _reap(state: dict[str, Any]) -> None:
    """Finalizer: kill a sandbox's Asterisk and remove its work dir (no reference to it)."""
    proc: subprocess.Popen[bytes] | None = state.get("proc")
    if proc is not None and proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
    if state.get("remove"):
        shutil.rmtree(state["workdir"], ignore_errors=True)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """So a killed test run can't leave Asterisk behind (Linux prctl PR_SET_PDEATHSIG)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)


class Sandbox:
    """One isolated Asterisk 22 on loopback, configured from a short work directory.

    ``start()`` writes the configuration, boots Asterisk and waits until it is fully
    booted; ``stop()`` shuts it down and removes the work directory (unless ``keep``).
    A sandbox that is garbage-collected or still running at interpreter exit is killed.
    Test calls go through the contexts in ``sandbox_templates/extensions.conf``; see
    :class:`callflow.testing.CallDriver`::

        with Sandbox() as pbx:
            mark = pbx.log_mark()
            pbx.cli("dialplan reload")
            assert pbx.problems_since(mark) == []
    """

    def __init__(
        self,
        root: Path | str | None = None,
        *,
        workdir: Path | str | None = None,
        keep: bool = False,
        detached: bool = False,
        boot_timeout: float = _BOOT_TIMEOUT,
    ) -> None:
        self.root = Path(root) if root is not None else provision()
        self._loader, self._binary, self._arch = _layout(self.root)
        #: the self-contained binary (see :func:`fix_launcher`); None: started through the
        #: root's loader, and ``core restart now`` would kill it
        self.launcher: Path | None = self.root / LAUNCHER if launcher_ready(self.root) else None
        self._owns_workdir = workdir is None
        self.workdir = (
            Path(workdir)
            if workdir is not None
            else Path(tempfile.mkdtemp(prefix="cf-", dir="/tmp"))
        )
        self.etc_dir = self.workdir / "etc"
        self.keep = keep
        self.detached = detached
        self.boot_timeout = boot_timeout
        self.http_port = _free_port()
        self.ami_port = _free_port()
        self.ami_host = "127.0.0.1"
        self.ami_user = "callflow"
        self.ami_secret = secrets.token_hex(12)
        self.ari_user = "callflow"
        self.ari_password = secrets.token_hex(12)
        self.pid: int | None = None
        self.boot_seconds: float | None = None
        self._state: dict[str, Any] = {
            "proc": None,
            "workdir": self.workdir,
            "remove": self._owns_workdir and not keep,
        }
        self._finalizer = weakref.finalize(self, _reap, self._state)

    # ---- what other modules use

    @property
    def ari_url(self) -> str:
        """Base URL of ARI, e.g. ``http://127.0.0.1:41234/ari``."""
        return f"http://127.0.0.1:{self.http_port}/ari"

    @property
    def messages_log(self) -> Path:
        """The log file that holds notices, warnings and errors."""
        return self.workdir / "log" / "messages"

    def asterisk_command(self) -> list[str]:
        """Argv prefix that talks to this Asterisk: ``argv + ["-rx", cmd]`` runs ``cmd``."""
        if self.launcher is not None:
            return [str(self.launcher), "-C", str(self.etc_dir / "asterisk.conf")]
        return [
            str(self._loader),
            "--library-path",
            f"{self.root}/usr/lib/{self._arch}:{self.root}/lib/{self._arch}",
            str(self._binary),
            "-C",
            str(self.etc_dir / "asterisk.conf"),
        ]

    def cli(self, command: str, *, timeout: float = _CLI_TIMEOUT) -> str:
        """Run one Asterisk CLI command and return its output::

        assert "Asterisk 22" in pbx.cli("core show version")

        ``core restart now`` returns once the restarted Asterisk is fully booted (same
        process, same configuration directory, so deployed sites are still there).
        """
        if " ".join(command.split()).lower() == "core restart now":
            return self._restart(timeout)
        argv = [*self.asterisk_command(), "-rx", command]
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise SandboxError(f"cli {command!r}: no answer within {timeout:g}s") from exc
        if done.returncode != 0:
            raise SandboxError(
                f"cli {command!r} exited {done.returncode}: {_tail(done.stdout + done.stderr)}"
            )
        return done.stdout

    def log_mark(self) -> int:
        """A position in the messages log; pass it to :meth:`problems_since`."""
        try:
            return self.messages_log.stat().st_size
        except FileNotFoundError:
            return 0

    def problems_since(self, mark: int, *, settle: float = 0.3) -> list[str]:
        """WARNING and ERROR lines logged after ``mark``::

            mark = pbx.log_mark()
            ...  # place calls
            assert pbx.problems_since(mark) == []

        ``settle`` gives Asterisk's logger thread time to write what just happened.
        """
        if settle > 0:
            time.sleep(settle)
        try:
            with self.messages_log.open("rb") as log:
                log.seek(mark)
                text = log.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return []
        return [line for line in text.splitlines() if "] WARNING[" in line or "] ERROR[" in line]

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the full log and the console output, for error messages."""
        parts = []
        for name in ("full", "console.log"):
            path = self.workdir / "log" / name
            if path.exists():
                parts.append(f"--- {name}\n{_tail(path.read_text(errors='replace'), lines)}")
        return "\n".join(parts)

    # ---- lifecycle

    def start(self) -> Sandbox:
        """Write the configuration, boot Asterisk, wait until fully booted."""
        if self.pid is not None and _pid_alive(self.pid):
            return self
        if not self._finalizer.alive:  # stopped before: guard this run too
            self._finalizer = weakref.finalize(self, _reap, self._state)
        self._write_config()
        argv = [*self.asterisk_command()[:-2], "-f", "-C", str(self.etc_dir / "asterisk.conf")]
        console = self.workdir / "log" / "console.log"
        started = time.monotonic()
        if self.detached:
            self.pid = self._spawn_detached(argv, console)
        else:
            with console.open("ab") as out:
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_die_with_parent,
                )
            self._state["proc"] = proc
            self.pid = proc.pid
        self._wait_booted(started)
        self.boot_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        """Stop Asterisk (``core stop now``, then signals) and remove the work dir."""
        pid = self.pid
        if pid is not None and _pid_alive(pid):
            with contextlib.suppress(SandboxError):
                self.cli("core stop now", timeout=5)
            if not self._wait_exit(pid, 5):
                self._signal(pid, signal.SIGTERM)
                if not self._wait_exit(pid, 3):
                    self._signal(pid, signal.SIGKILL)
                    self._wait_exit(pid, 3)
        self.pid = None
        self._state["proc"] = None
        if not self.keep:
            if self._owns_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)
            else:  # a fixed dir (up()): clear what we wrote, not the dir itself
                for name in ("etc", "lib", "spool", "run", "log", "cache", _STATE_FILE):
                    path = self.workdir / name
                    if path.is_dir():
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        path.unlink(missing_ok=True)
        self._finalizer.detach()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<Sandbox {self.workdir} pid={self.pid} ami={self.ami_port} http={self.http_port}>"

    # ---- internals

    def _restart(self, timeout: float) -> str:
        """``core restart now``, then wait for the new boot (the control socket is made
        anew, so a changed inode or mtime tells the new Asterisk from the old one)."""
        if self.launcher is None:
            raise SandboxError(
                f"cli 'core restart now': {self.root} has no {LAUNCHER} (run "
                "`callflow sandbox provision` as root); Asterisk would not come back"
            )
        if self.pid is None:
            raise SandboxError("cli 'core restart now': the sandbox is not running")
        pid = self.pid
        ctl = self.workdir / "run" / "asterisk.ctl"

        def identity() -> tuple[int, int] | None:
            try:
                st = ctl.stat()
            except FileNotFoundError:
                return None
            return st.st_ino, st.st_mtime_ns

        before = identity()
        argv = [*self.asterisk_command(), "-rx", "core restart now"]
        with contextlib.suppress(subprocess.TimeoutExpired):  # the console may just drop
            subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
        started = time.monotonic()
        deadline = started + max(timeout, self.boot_timeout)
        while time.monotonic() < deadline:
            proc = self._state["proc"]
            if (proc is not None and proc.poll() is not None) or not _pid_alive(pid):
                tail = self.log_tail()
                raise SandboxError(f"cli 'core restart now': Asterisk exited\n{tail}")
            now = identity()
            if now is not None and now != before:
                with contextlib.suppress(SandboxError):
                    self.cli("core waitfullybooted", timeout=max(1.0, deadline - time.monotonic()))
                    return ""
            time.sleep(0.05)
        raise SandboxError(
            f"cli 'core restart now': Asterisk did not come back within "
            f"{deadline - started:g}s\n{self.log_tail()}"
        )

    def _spawn_detached(self, argv: list[str], console: Path) -> int:
        """Start Asterisk so that it outlives this process (sh backgrounds it, we reap sh)."""
        script = '"$@" </dev/null >>"$CF_CONSOLE" 2>&1 & echo $!'
        done = subprocess.run(
            ["/bin/sh", "-c", script, "sh", *argv],
            capture_output=True,
            text=True,
            env={**os.environ, "CF_CONSOLE": str(console)},
            start_new_session=True,
            timeout=10,
            check=False,
        )
        if done.returncode != 0 or not done.stdout.strip().isdigit():
            raise SandboxError(f"start: could not spawn Asterisk: {done.stderr.strip()}")
        return int(done.stdout.strip())

    def _wait_booted(self, started: float) -> None:
        ctl = self.workdir / "run" / "asterisk.ctl"
        deadline = started + self.boot_timeout
        last_error = ""
        while time.monotonic() < deadline:
            assert self.pid is not None
            proc = self._state["proc"]
            if (proc is not None and proc.poll() is not None) or not _pid_alive(self.pid):
                tail = self.log_tail()
                self.stop()
                raise SandboxError(f"start: Asterisk exited while booting\n{tail}")
            if ctl.exists():
                try:
                    self.cli("core waitfullybooted", timeout=max(1.0, deadline - time.monotonic()))
                except SandboxError as exc:
                    last_error = str(exc)
                else:
                    return
            time.sleep(0.1)
        tail = self.log_tail()
        self.stop()
        raise SandboxError(
            f"start: Asterisk did not boot within {self.boot_timeout:g}s "
            f"({last_error or 'no control socket'})\n{tail}"
        )

    def _wait_exit(self, pid: int, seconds: float) -> bool:
        proc = self._state["proc"]
        if proc is not None:
            try:
                proc.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                return False
            return True
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not _pid_alive(pid):
                return True
            time.sleep(0.05)
        return False

    def _signal(self, pid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if self._state["proc"] is not None:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)

    def _write_config(self) -> None:
        for name in ("etc", "lib", "spool", "run", "log", "cache"):
            (self.workdir / name).mkdir(parents=True, exist_ok=True)
        values = {
            "root": self.root,
            "arch": self._arch,
            "workdir": self.workdir,
            "http_port": self.http_port,
            "ami_port": self.ami_port,
            "ami_user": self.ami_user,
            "ami_secret": self.ami_secret,
            "ari_user": self.ari_user,
            "ari_password": self.ari_password,
            "modules": MODULES,
        }
        env = jinja2.Environment(
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            autoescape=False,  # noqa: S701 - Asterisk config, not HTML
        )
        templates = resources.files("callflow") / "sandbox_templates"
        for entry in sorted(templates.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".j2"):
                text = env.from_string(entry.read_text()).render(values)
                target = self.etc_dir / entry.name.removesuffix(".j2")
            elif entry.name.endswith(".conf"):
                text = entry.read_text()
                target = self.etc_dir / entry.name
            else:
                continue
            target.write_text(text)

    def _to_state(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "root": str(self.root),
            "workdir": str(self.workdir),
            "http_port": self.http_port,
            "ami_port": self.ami_port,
            "ami_user": self.ami_user,
            "ami_secret": self.ami_secret,
            "ari_user": self.ari_user,
            "ari_password": self.ari_password,
        }


# --------------------------------------------------------------------------- persistent


def up(state_dir: Path | str | None = None, *, root: Path | str | None = None) -> Sandbox:
    """Start the persistent sandbox (or return the one already running)::

    pbx = up()               # /tmp/callflow-sandbox
    print(pbx.ami_port)      # still running after this process exits
    """
    directory = Path(state_dir) if state_dir is not None else DEFAULT_STATE_DIR
    try:
        return attach(directory)
    except SandboxError:
        pass
    directory.mkdir(parents=True, exist_ok=True)
    with _locked(directory / ".lock"):
        with contextlib.suppress(SandboxError):
            return attach(directory)
        sandbox = Sandbox(root, workdir=directory, keep=True, detached=True)
        sandbox.start()
        (directory / _STATE_FILE).write_text(json.dumps(sandbox._to_state(), indent=2) + "\n")
        return sandbox


def attach(state_dir: Path | str | None = None) -> Sandbox:
    """Re-open the persistent sandbox started by :func:`up`; ``SandboxError`` if none runs."""
    directory = Path(state_dir) if state_dir is not None else DEFAULT_STATE_DIR
    try:
        state = json.loads((directory / _STATE_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise SandboxError(f"attach: no sandbox state in {directory}: {exc}") from exc
    if not isinstance(state.get("pid"), int) or not _pid_alive(state["pid"]):
        raise SandboxError(f"attach: the sandbox in {directory} is not running")
    sandbox = Sandbox(state["root"], workdir=directory, keep=True, detached=True)
    for key in ("http_port", "ami_port", "ami_user", "ami_secret", "ari_user", "ari_password"):
        setattr(sandbox, key, state[key])
    sandbox.pid = state["pid"]
    sandbox.cli("core show uptime seconds", timeout=5)  # it answers: really ours and alive
    return sandbox


def down(state_dir: Path | str | None = None) -> bool:
    """Stop the persistent sandbox; False when none was running."""
    directory = Path(state_dir) if state_dir is not None else DEFAULT_STATE_DIR
    try:
        sandbox = attach(directory)
    except SandboxError:
        (directory / _STATE_FILE).unlink(missing_ok=True)
        return False
    sandbox.keep = False
    sandbox.stop()
    return True


def status(state_dir: Path | str | None = None) -> dict[str, Any]:
    """What ``callflow sandbox status`` prints: running or not, pid, ports, credentials."""
    directory = Path(state_dir) if state_dir is not None else DEFAULT_STATE_DIR
    try:
        sandbox = attach(directory)
    except SandboxError as exc:
        return {"running": False, "state_dir": str(directory), "reason": str(exc)}
    uptime = sandbox.cli("core show uptime seconds").strip()
    return {
        "running": True,
        "state_dir": str(directory),
        "uptime": uptime,
        "ari_url": sandbox.ari_url,
        **sandbox._to_state(),
    }
