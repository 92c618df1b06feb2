"""Model -> pjsip.conf and musiconhold.conf sections, and the dialplan of phones and numbers.

- one UDP transport (``Phones.transport``);
- per staff phone (a ``PJSIP/<name>`` device with an extension): endpoint, aor and auth
  ``<name>``, in the site's phones context, its password the secret ``staff.<id>``;
- per trunk: endpoint/aor ``callflow-<site>-<trunk>`` in the trunk's inbound context,
  auth and registration when it registers, identify by its addresses;
- the inbound context of each trunk: only its numbers (DIDs), each a ``Goto`` to the
  entry it maps to (or the person whose direct number it is); unknown numbers go to the
  trunk's default entry, or do not exist (the carrier gets 404);
- the phones context: each extension rings its person (free phones only) then their
  voicemail, ``*97`` is VoiceMailMain, ``*45``/``*46`` log in/out and ``*47``/``*48``
  pause/resume in every queue the phone is a member of; staff phones dial the entries too.

    sections = pjsip_sections(site)
"""

from __future__ import annotations

from callflow.compiler.devstate import release, state_device, take_phone
from callflow.compiler.escape import comment
from callflow.compiler.ir import Context, Extension, SecretRef, Section, Step
from callflow.contract import (
    FEATURE_CODES,
    VOICEMAIL_MAIN_CODE,
    entry_context,
    inbound_context,
    mailbox_context,
    moh_class,
    phones_context,
    transport_name,
    trunk_endpoint,
)
from callflow.model.phones import Trunk
from callflow.model.site import Site
from callflow.model.staff import Staff

#: seconds an extension rings before its voicemail
EXTENSION_RING = 20


def pjsip_endpoint(person: Staff) -> str | None:
    """The endpoint name of a person's phone, when callflow generates it."""
    if person.extension is None or not person.device.startswith("PJSIP/"):
        return None
    name = state_device(person.device).removeprefix("PJSIP/")
    return name if "@" not in name and "/" not in name else None


def staff_secret(person: Staff) -> str:
    return f"staff.{person.id}"


def trunk_secret(trunk: Trunk) -> str:
    return f"trunk.{trunk.id}"


def pjsip_sections(site: Site) -> tuple[Section, ...]:
    """Every section of the site's pjsip.conf, in a stable order."""
    phones = site.phones
    zone = site.tone_zone
    out: list[Section] = []
    transport = transport_name(site.name)
    staff = [p for p in site.staff_map.values() if pjsip_endpoint(p)] if phones.staff else []
    trunks = list(site.trunk_map.values()) if phones.trunks else []
    if phones.transport and (staff or trunks):  # a transport only for something to use it
        out.append(
            Section(
                transport,
                (
                    ("type", "transport"),
                    ("protocol", "udp"),
                    ("bind", f"{phones.bind}:{phones.port}"),
                ),
                comment="SIP for staff phones and trunks",
            )
        )
    on_transport = (("transport", transport),) if out else ()
    if phones.staff:
        for person in sorted(site.staff_map.values(), key=lambda p: p.id):
            name = pjsip_endpoint(person)
            if name is None:
                continue
            mailbox = (
                (("mailboxes", f"{person.mailbox}@{mailbox_context(site.name)}"),)
                if person.mailbox
                else ()
            )
            out += [
                Section(
                    name,
                    (
                        ("type", "endpoint"),
                        *on_transport,
                        ("context", phones_context(site.name)),
                        ("disallow", "all"),
                        ("allow", ",".join(phones.codecs)),
                        ("auth", name),
                        ("aors", name),
                        ("callerid", f'"{_cid_name(person.name)}" <{person.extension}>'),
                        ("dtmf_mode", "rfc4733"),
                        ("tone_zone", zone),
                        ("direct_media", "no"),
                        ("rtp_symmetric", "yes"),
                        ("force_rport", "yes"),
                        ("rewrite_contact", "yes"),
                        *mailbox,
                    ),
                    comment=f"{comment(person.name)} ({person.id}), extension {person.extension}",
                ),
                Section(
                    name,
                    (
                        ("type", "auth"),
                        ("auth_type", "digest"),
                        ("username", name),
                        ("password", SecretRef(staff_secret(person))),
                    ),
                ),
                Section(
                    name,
                    (
                        ("type", "aor"),
                        ("max_contacts", "1"),
                        ("remove_existing", "yes"),
                        ("qualify_frequency", "60"),
                    ),
                ),
            ]
    if phones.trunks:
        for trunk in sorted(site.trunk_map.values(), key=lambda t: t.id):
            out += _trunk_sections(site, trunk, on_transport)
    return tuple(out)


def _trunk_sections(
    site: Site, trunk: Trunk, on_transport: tuple[tuple[str, str], ...]
) -> list[Section]:
    name = trunk_endpoint(site.name, trunk.id)
    server = f"sip:{trunk.host}:{trunk.port}"
    auth: tuple[tuple[str, str], ...] = (("outbound_auth", name),) if trunk.register else ()
    presented = (("from_user", trunk.caller_id),) if trunk.caller_id else ()
    out = [
        Section(
            name,
            (
                ("type", "endpoint"),
                *on_transport,
                ("context", inbound_context(site.name, trunk.id)),
                ("disallow", "all"),
                ("allow", ",".join(trunk.codecs)),
                ("aors", name),
                *auth,
                *presented,
                ("callerid_privacy", "allowed" if trunk.presentation == "allowed" else "prohib"),
                ("send_pai", "yes"),
                ("trust_id_inbound", "no"),
                ("dtmf_mode", "rfc4733"),
                ("tone_zone", site.tone_zone),
                ("direct_media", "no"),
                ("rtp_symmetric", "yes"),
            ),
            comment=f"trunk {trunk.id}" + (f": {comment(trunk.label)}" if trunk.label else ""),
        ),
        Section(name, (("type", "aor"), ("contact", server), ("qualify_frequency", "60"))),
        Section(
            name,
            (
                ("type", "identify"),
                ("endpoint", name),
                *(("match", address) for address in trunk.addresses()),
            ),
        ),
    ]
    if trunk.register:
        out += [
            Section(
                name,
                (
                    ("type", "auth"),
                    ("auth_type", "digest"),
                    ("username", trunk.username),
                    ("password", SecretRef(trunk_secret(trunk))),
                ),
            ),
            Section(
                name,
                (
                    ("type", "registration"),
                    *on_transport,
                    ("outbound_auth", name),
                    ("server_uri", server),
                    ("client_uri", f"sip:{trunk.username}@{trunk.host}"),
                    ("contact_user", trunk.username),
                    ("retry_interval", "60"),
                    ("line", "yes"),
                    ("endpoint", name),
                ),
            ),
        ]
    return out


def moh_sections(site: Site) -> tuple[Section, ...]:
    """One music-on-hold class per music a queue plays (``default``: Asterisk's moh/)."""
    music = sorted({q.music for q in site.queues()})
    return tuple(
        Section(
            moh_class(site.name, m),
            (("mode", "files"), ("directory", "moh" if m == "default" else f"moh/{m}")),
            comment=f"queues with music {m!r}",
        )
        for m in music
    )


def inbound_contexts(site: Site) -> list[Context]:
    """One context per trunk: its mapped numbers and default, nothing else."""
    entries = entry_context(site.name)
    phones = phones_context(site.name)
    direct = {p.did: p for p in site.staff_map.values() if p.did and p.extension}
    out = []
    for trunk in sorted(site.trunk_map.values(), key=lambda t: t.id):
        exts = []
        for did, entry in sorted(trunk.numbers.items()):
            exts.append(Extension(did, (Step("Goto", f"{entries},{entry},1"),)))
        for did, person in sorted(direct.items()):
            if did not in trunk.numbers:
                exts.append(
                    Extension(
                        did,
                        (Step("Goto", f"{phones},{person.extension},1", comment=person.id),),
                    )
                )
        if trunk.default is not None:
            to_default = (Step("Goto", f"{entries},{trunk.default},1", comment="unknown number"),)
            exts += [Extension(p, to_default) for p in ("_X.", "_+X.", "s")]
        out.append(
            Context(
                inbound_context(site.name, trunk.id),
                tuple(exts),
                comment=f"calls from trunk {trunk.id}: only its numbers reach the site",
            )
        )
    return out


def staff_phones_context(site: Site) -> Context | None:
    """Extensions, voicemail and feature codes for staff phones (None: no extensions)."""
    people = sorted(
        (p for p in site.staff_map.values() if p.extension is not None),
        key=lambda p: p.extension or "",
    )
    if not people:
        return None
    boxes = mailbox_context(site.name)
    exts = []
    for person in people:
        assert person.extension is not None
        device = person.device
        steps = [
            *take_phone(site.name, person, "busy"),
            Step("Dial", f"{device},{EXTENSION_RING}"),
            release(site.name, person.id),
        ]
        if person.mailbox:
            steps += [
                Step("GotoIf", '$["${DIALSTATUS}" = "ANSWER"]?done'),
                Step("VoiceMail", f"{person.mailbox}@{boxes},u"),
                Step("Hangup", label="done"),
                Step("VoiceMail", f"{person.mailbox}@{boxes},b", label="busy"),
            ]
        else:
            steps += [Step("Hangup"), Step("Busy", "10", label="busy")]
        steps.append(Step("Hangup"))
        exts.append(Extension(person.extension, tuple(steps)))
    exts.append(
        Extension(VOICEMAIL_MAIN_CODE, (Step("Answer"), Step("VoiceMailMain", f"@{boxes}")))
    )
    entries = entry_context(site.name)
    for number in sorted(site.entries):
        if number not in {p.extension for p in people}:
            exts.append(Extension(number, (Step("Goto", f"{entries},{number},1"),)))
    for code, (app, reason) in sorted(FEATURE_CODES.items()):
        exts.append(
            Extension(
                code,
                (
                    Step("Answer"),
                    Step(app, f",PJSIP/${{CHANNEL(endpoint)}},,{reason}"),
                    Step("Playback", "beep"),
                    Step("Hangup"),
                ),
            )
        )
    return Context(
        phones_context(site.name),
        tuple(exts),
        comment="staff phones: extensions, *97 voicemail, *45/*46 log in/out, *47/*48 pause",
    )


def _cid_name(name: str) -> str:
    """A display name as pjsip.conf's quoted ``callerid`` can hold it: no quotes, angle
    brackets, backslashes, ``;`` (a comment) or control characters."""
    return "".join(c for c in name if c.isprintable() and c not in '"<>;\\')
