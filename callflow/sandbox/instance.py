"""One running Asterisk 22: its configuration, its process and its control socket.

Every :class:`Sandbox` runs the cached root's Asterisk (:mod:`callflow.sandbox.root`)
from its own short work directory, with its own configuration, loopback-only ports and
credentials, so several can run at once without touching the host's ``/etc/asterisk``::

    with Sandbox() as pbx:
        print(pbx.cli("core show version"))
        assert pbx.problems_since(0) == []

Who may touch it is :mod:`callflow.sandbox.access`'s business.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2

from callflow.sandbox.access import (
    CONTROL_SOCKET,
    RunAs,
    check_socket_path,
    check_state_dir,
    drop_capabilities,
    make_private_dir,
    runtime_identity,
    set_owner_mode,
    unreachable,
    write_file,
)
from callflow.sandbox.common import SandboxError, tail_lines
from callflow.sandbox.root import LAUNCHER, launcher_ready, layout, provision

STATE_FILE = "sandbox.json"
"""The persistent sandbox's pid, ports and credentials, in its work directory (0600)."""

#: directories Asterisk writes into (owned by the runtime user when root starts it)
_WRITABLE_DIRS = ("lib", "spool", "run", "log", "cache")
#: the sounds folder each sandbox has of its own (not linked to the root's): where
#: ``callflow prompts import`` puts a site's recordings
OWN_SOUNDS = "custom"

#: configuration files that hold a password (0600, or 0640 for the runtime group)
SECRET_FILES = ("manager.conf", "ari.conf")

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
    # outbound campaigns: answering-machine detection, the end of a machine's greeting
    "app_amd.so",
    "app_waitforsilence.so",
    "app_waituntil.so",
    "app_while.so",
    "app_sayunixtime.so",
    "app_stasis.so",
    # ARI and its HTTP transport (not res_ari_asterisk: callflow needs none of its module
    # loading, logging channels, dynamic configuration or global variables)
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
    # the generated pjsip.conf: phones register, trunks are identified by address or register
    "res_pjsip_registrar.so",
    "res_pjsip_endpoint_identifier_ip.so",
    "res_pjsip_outbound_registration.so",
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
    "func_lock.so",
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
    """So a killed test run can't leave Asterisk behind (Linux prctl PR_SET_PDEATHSIG;
    Linux clears it when Asterisk gives up root, so then only the finalizer reaps)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)


def _detached_setup(console: int) -> Callable[[], None]:
    def setup() -> None:  # pragma: no cover - runs in the child
        os.dup2(console, 3)
        drop_capabilities()

    return setup


def _child_setup() -> None:  # pragma: no cover - runs in the child
    _die_with_parent()
    drop_capabilities()


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
        self._loader, self._binary, self._arch = layout(self.root)
        #: the self-contained binary (see :func:`fix_launcher`); None: started through the
        #: root's loader, and ``core restart now`` would kill it
        self.launcher: Path | None = self.root / LAUNCHER if launcher_ready(self.root) else None
        #: who Asterisk runs as: None when not started by root (then as the invoking user)
        self.run_as: RunAs | None = runtime_identity()
        self._owns_workdir = workdir is None
        if workdir is not None:
            self.workdir = Path(workdir).absolute()
            check_socket_path(self.workdir)
            check_state_dir(self.workdir)
        else:  # 0700, a name nobody can guess or pre-create
            self.workdir = Path(tempfile.mkdtemp(prefix="cf-", dir="/tmp"))
            check_socket_path(self.workdir)
        if self.run_as is not None:
            self._check_reachable()
        self.etc_dir = self.workdir / "etc"
        #: for files the sandbox's Asterisk must read or write beside its configuration,
        #: e.g. a classic AGI script, its database and its log: the invoking user's and
        #: (when root started it) the runtime user's, through the group; nobody else's
        self.share_dir = self.workdir / "share"
        #: Asterisk's data directory (``astdatadir``): the root's, entry by entry as
        #: symlinks, but with a ``sounds`` directory of this sandbox's own (the root's
        #: language folders linked in), so files written here (test placeholders, imported
        #: prompts) reach only this sandbox and never the shared root
        self.data_dir = self.workdir / "data"
        self.sounds_dir = self.data_dir / "sounds"
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

    def _check_reachable(self) -> None:
        """As root, Asterisk runs as :attr:`run_as`: it must be able to enter the root
        (modules, sounds, launcher) and the work directory's parent."""
        assert self.run_as is not None
        needed = {
            "its modules": self.root / f"usr/lib/{self._arch}/asterisk/modules",
            "its sounds": self.root / "usr/share/asterisk/sounds",
            "its binary": self._binary.parent,
            "the sandbox directory": self.workdir.parent,
        }
        for what, path in needed.items():
            blocked = unreachable(path, self.run_as)
            if blocked is not None:
                if self._owns_workdir:
                    shutil.rmtree(self.workdir, ignore_errors=True)
                mode = blocked.stat().st_mode & 0o7777 if blocked.exists() else 0
                raise SandboxError(
                    f"the sandbox's Asterisk runs as {self.run_as.user}, not root, and "
                    f"cannot enter {blocked} (mode {mode:04o}) to reach {what} ({path}); "
                    "as root keep the Asterisk root in a directory every user may enter "
                    "(the default /var/cache/callflow, or CALLFLOW_CACHE) and the state "
                    "dir outside /root"
                )

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
            # Asterisk cuts long values mid-character (app_queue keeps 79 bytes of a member
            # name): its output is not always UTF-8, and reading it must never fail
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise SandboxError(f"cli {command!r}: no answer within {timeout:g}s") from exc
        if done.returncode != 0:
            raise SandboxError(
                f"cli {command!r} exited {done.returncode}: {tail_lines(done.stdout + done.stderr)}"
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

    def logtail_lines(self, lines: int = 40) -> str:
        """The last lines of the full log and the console output, for error messages."""
        parts = []
        for name in ("full", "console.log"):
            path = self.workdir / "log" / name
            if path.exists():
                parts.append(f"--- {name}\n{tail_lines(path.read_text(errors='replace'), lines)}")
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
                    preexec_fn=_child_setup,
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
                for name in ("etc", "share", *_WRITABLE_DIRS, STATE_FILE):
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
        ctl = self.workdir / CONTROL_SOCKET

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
                tail = self.logtail_lines()
                raise SandboxError(f"cli 'core restart now': Asterisk exited\n{tail}")
            now = identity()
            if now is not None and now != before:
                with contextlib.suppress(SandboxError):
                    self.cli("core waitfullybooted", timeout=max(1.0, deadline - time.monotonic()))
                    return ""
            time.sleep(0.05)
        raise SandboxError(
            f"cli 'core restart now': Asterisk did not come back within "
            f"{deadline - started:g}s\n{self.logtail_lines()}"
        )

    def _spawn_detached(self, argv: list[str], console: Path) -> int:
        """Start Asterisk so that it outlives this process (sh backgrounds it, we reap sh).

        The console log is opened here and handed down as fd 3: sh runs without the
        capabilities root would need to write into Asterisk's own log directory."""
        script = '"$@" </dev/null >&3 2>&3 3>&- & echo $!'
        with console.open("ab") as out:
            done = subprocess.run(
                ["/bin/sh", "-c", script, "sh", *argv],
                capture_output=True,
                text=True,
                start_new_session=True,
                preexec_fn=_detached_setup(out.fileno()),
                pass_fds=(3,),
                timeout=10,
                check=False,
            )
        if done.returncode != 0 or not done.stdout.strip().isdigit():
            raise SandboxError(f"start: could not spawn Asterisk: {done.stderr.strip()}")
        return int(done.stdout.strip())

    def _wait_booted(self, started: float) -> None:
        ctl = self.workdir / CONTROL_SOCKET
        deadline = started + self.boot_timeout
        last_error = ""
        while time.monotonic() < deadline:
            assert self.pid is not None
            proc = self._state["proc"]
            if (proc is not None and proc.poll() is not None) or not _pid_alive(self.pid):
                tail = self.logtail_lines()
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
        tail = self.logtail_lines()
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
        who = self.run_as
        group = who.gid if who is not None else -1
        make_private_dir(self.workdir)
        set_owner_mode(self.workdir, mode=0o700 if who is None else 0o710, gid=group)
        self.etc_dir.mkdir(mode=0o700, exist_ok=True)
        set_owner_mode(self.etc_dir, mode=0o700 if who is None else 0o2750, gid=group)
        self.share_dir.mkdir(mode=0o700, exist_ok=True)
        set_owner_mode(self.share_dir, mode=0o700 if who is None else 0o2770, gid=group)
        for name in _WRITABLE_DIRS:
            path = self.workdir / name
            path.mkdir(mode=0o700, exist_ok=True)
            if who is not None:
                set_owner_mode(path, mode=0o750, uid=who.uid, gid=who.gid)
        self._write_data_dir(group)
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
            "run_as": who,
        }
        env = jinja2.Environment(
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            autoescape=False,  # noqa: S701 - Asterisk config, not HTML
        )
        templates = resources.files("callflow") / "sandbox_templates"
        file_group = None if who is None else who.gid
        for entry in sorted(templates.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".j2"):
                text = env.from_string(entry.read_text()).render(values)
                target = self.etc_dir / entry.name.removesuffix(".j2")
            elif entry.name.endswith(".conf"):
                text = entry.read_text()
                target = self.etc_dir / entry.name
            else:
                continue
            # Asterisk reads them as the runtime user, through the group; nobody else
            write_file(target, text, mode=0o600 if who is None else 0o640, group=file_group)

    def _write_data_dir(self, group: int) -> None:
        """:attr:`data_dir`: a symlink to each entry of the root's data directory but
        ``sounds``, and :attr:`sounds_dir` with a symlink to each entry of the root's
        sounds but :data:`OWN_SOUNDS` (Debian links it to a system folder): a prompt
        Asterisk finds in no language folder of the root is looked for here, in this
        sandbox's own files (``<sounds_dir>/<file>.<ext>``, the no-language folder)."""
        mode = 0o700 if self.run_as is None else 0o2750
        shared = self.root / "usr/share/asterisk"
        for directory in (self.data_dir, self.sounds_dir):
            directory.mkdir(mode=0o700, exist_ok=True)
            set_owner_mode(directory, mode=mode, gid=group)
        for source, target, skip in (
            (shared, self.data_dir, "sounds"),
            (shared / "sounds", self.sounds_dir, OWN_SOUNDS),
        ):
            for entry in sorted(source.iterdir(), key=lambda e: e.name):
                link = target / entry.name
                if entry.name == skip:
                    continue
                if link.is_symlink():
                    if Path(os.readlink(link)) == entry:
                        continue  # a restarted persistent sandbox keeps its links
                    link.unlink()  # the root moved
                link.symlink_to(entry)

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
