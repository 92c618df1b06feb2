"""Call recording in the compiled dialplan (docs/recording.md).

Everything recording adds is one subroutine context, ``cf-<site>-record``
(:func:`record_context`), and one line (or one Dial/Queue option) where it starts:

- ``agent`` mode: when a person answers. ``Queue()``'s gosub argument and ``Dial()``'s
  ``U()`` option run the subroutine on the answering agent's channel once the parties are
  connected, so a call nobody answers is never recorded;
- ``entry`` mode: ``Gosub()`` on the caller's own channel when the call enters the site
  (or, for a queue's own policy, the queue);
- a campaign: ``Gosub()`` on the callee's channel once it answered (after AMD).

The subroutine's arguments are compile-time constants: ``ARG1`` the directory
(``<directory>/<site>``), ``ARG2`` the file extension, ``ARG3`` ``mixed`` or ``split``,
``ARG4`` whose voice MixMonitor's ``r()`` (what the channel sends) is (``caller`` or
``agent``), ``ARG5`` the caller's channel when it runs on the agent's. The file name is
built only from the site, the date and time in the site's time zone, and the call's
linkedid and ``UNIQUEID`` (filtered to ``0-9A-Za-z._-``): no caller id, CRM value or
digit ever reaches it. The subroutine appends the file name(s) to ``CF_RECORDING`` of the
caller's channel (a ``SHARED()`` variable, readable on that channel only); the hang-up
handler copies it into the end event, and the call-record writer links it.
"""

from __future__ import annotations

from callflow.compiler.escape import comment
from callflow.compiler.ir import Context, Extension, Step
from callflow.contract import (
    CF_RECORDING,
    END_FIELDS,
    RECORDING_EXTENSIONS,
    RECORDING_ID_CHARS,
    RECORDING_LEGS,
    record_context,
    recording_dir,
)
from callflow.model.nodes import Queue
from callflow.model.recording import Recording, effective
from callflow.model.site import Site

CALLER, AGENT = RECORDING_LEGS
#: the end event's field that carries CF_RECORDING
RECORDING_FIELD = next(k for k, (name, _) in END_FIELDS.items() if name == CF_RECORDING)
#: the caller's shared variable, as the hang-up handler (on the caller's channel) reads it
SHARED_RECORDING = f"${{SHARED({CF_RECORDING})}}"
#: a comma that survives Queue()'s own argument split (its gosub argument is one of them)
QUEUE_SEP = "\\,"


def record_steps(site: Site) -> tuple[Step, ...]:
    """The steps of ``cf-<site>-record,s``: name the file(s), start MixMonitor, report."""
    tz = site.timezone
    caller_or_agent = f'${{IF($["${{ARG4}}" = "{CALLER}"]?{AGENT}:{CALLER})}}'
    ids = "-".join(
        f"${{FILTER({RECORDING_ID_CHARS},${{{name}}})}}"
        for name in ("CHANNEL(linkedid)", "UNIQUEID")
    )
    stem = f"${{ARG1}}/${{at:0:8}}/{site.name}-${{at}}-{ids}"
    target = '${IF($["${ARG5}" = ""]?${CHANNEL}:${ARG5})}'
    shared = f"SHARED({CF_RECORDING},${{to}})"
    return (
        Step("Set", f"LOCAL(at)=${{STRFTIME(${{EPOCH}},{tz},%Y%m%d-%H%M%S)}}", comment=f"{tz}"),
        Step("Set", f"LOCAL(stem)={stem}", comment="the call's ids only, never caller text"),
        Step("Set", f"LOCAL(to)={target}", comment="the caller's channel"),
        Step("GotoIf", '$["${ARG3}" = "split"]?split'),
        Step("Set", "LOCAL(files)=${stem}.${ARG2}"),
        Step("MixMonitor", "${files}"),
        Step("Goto", "report"),
        Step("Set", f"LOCAL(other)={caller_or_agent}", label="split"),
        Step("Set", "LOCAL(files)=${stem}-${ARG4}.${ARG2} ${stem}-${other}.${ARG2}"),
        Step("MixMonitor", ",r(${stem}-${ARG4}.${ARG2})t(${stem}-${other}.${ARG2})"),
        Step("Set", f"{shared}=${{{shared}}} ${{files}}", label="report"),
        Step("Return"),
    )


def record_context_for(site: Site) -> Context | None:
    """``cf-<site>-record``, when anything on the site records."""
    if not records(site):
        return None
    return Context(
        record_context(site.name),
        (Extension("s", record_steps(site)),),
        comment="call recording: MixMonitor, the file named from the call's ids",
    )


def policies(site: Site) -> list[Recording]:
    """Every policy the site's calls record with."""
    out = [site.recording]
    out += [q.recording for q in site.queues() if q.recording is not None]
    out += [c.recording for c in site.campaigns if c.recording is not None]
    return out


def _args(site: Site, policy: Recording, side: str, report_to: str, sep: str) -> str:
    return sep.join(
        (
            recording_dir(policy.directory, site.name),
            RECORDING_EXTENSIONS[policy.format],
            policy.legs,
            side,
            report_to,
        )
    )


def announce(policy: Recording) -> list[Step]:
    """The announcement, played to the caller before recording starts (answering first)."""
    if not policy.announcement:
        return []
    plays = [
        Step("Playback", p.file, comment=comment(p.text) if p.text else "recording notice")
        for p in policy.announcement
    ]
    return [Step("Answer"), *plays]


def start_here(site: Site, policy: Recording) -> list[Step]:
    """Record the channel that runs these steps (the caller's, or a campaign's callee)
    from now on: the announcement, then one Gosub."""
    if not policy.on:
        return []
    args = _args(site, policy, CALLER, "", ",")
    return [*announce(policy), Step("Gosub", f"{record_context(site.name)},s,1({args})")]


def on_answer(site: Site, policy: Recording, sep: str) -> str:
    """The gosub a Queue() or Dial(U()) runs on the answering agent's channel, reporting
    to the caller's (``${CHANNEL}`` where the Queue or Dial runs); "" when not recording
    from the answer. ``sep`` separates the context and the arguments: ``^`` for Dial's
    ``U()``; ``\\,`` for Queue(), which takes the first comma of its (already split)
    gosub argument as the start of the arguments."""
    if not policy.on or policy.mode != "agent" or site.recording.mode == "entry":
        return ""
    return f"{record_context(site.name)}{sep}{_args(site, policy, AGENT, '${CHANNEL}', sep)}"


def entry_steps(site: Site) -> list[Step]:
    """What an entry adds: a site that records from entry starts here."""
    return start_here(site, site.recording) if site.recording.mode == "entry" else []


def queue_policy(site: Site, queue: Queue) -> Recording:
    """The policy of ``queue``: its own, else the site's; a site recording from entry
    already records the whole call, so then no queue starts another."""
    if site.recording.mode == "entry":
        return Recording.off()
    return effective(site.recording, queue.recording)


def queue_steps(site: Site, queue: Queue) -> tuple[list[Step], str]:
    """What a queue adds before ``Queue()`` (the announcement, or the whole start for a
    queue recording from entry) and the gosub argument of ``Queue()``."""
    policy = queue_policy(site, queue)
    if not policy.on:
        return [], ""
    if policy.mode == "entry":
        return start_here(site, policy), ""
    return announce(policy), on_answer(site, policy, QUEUE_SEP)


def dial_steps(site: Site) -> tuple[list[Step], str]:
    """What a Dial adds: the announcement before, and its ``U()`` option."""
    policy = site.recording
    gosub = on_answer(site, policy, "^")
    if not gosub:
        return [], ""
    return announce(policy), f"U({gosub})"


def campaign_steps(site: Site, own: Recording | None) -> list[Step]:
    """A campaign records from the callee's answer in any mode but ``off``."""
    return start_here(site, effective(site.recording, own))


def records(site: Site) -> bool:
    """Whether any of the site's calls may be recorded."""
    return any(p.on for p in policies(site))


def report_steps(site: Site) -> list[Step]:
    """The hang-up handler's first step on a site that records: the caller's shared
    ``CF_RECORDING`` into the channel variable the end event reports."""
    if not records(site):
        return []
    return [Step("ExecIf", f'$["{SHARED_RECORDING}" != ""]?Set({CF_RECORDING}={SHARED_RECORDING})')]


def end_fields(site: Site) -> dict[str, tuple[str, str | None]]:
    """The end event's fields for ``site``: ``recording`` only where calls may be
    recorded (the hang-up handler of a site that never records stays as it was)."""
    if records(site):
        return dict(END_FIELDS)
    return {k: v for k, v in END_FIELDS.items() if k != RECORDING_FIELD}
