"""The names every backend shares with Asterisk, written once.

The compiled dialplan, the offline simulator, the live ARI runtime, the call-record
writer and the test driver all meet a call through the same names: its contexts
(``cf-<site>-<node>``), the site's Stasis application (``callflow-<site>``), the channel
variables (``CF_TRACE``, ``CF_DEST``...) and the fields of the ``CallflowEnd`` event its
hang-up handler sends. They are declared here and nowhere else (a unit test fails on a
copy of any of them as a string literal elsewhere in ``callflow/``), with the two string
functions the dialplan uses to make CRM values safe, reproduced byte for byte::

    context_name("acme", "main")                 # 'cf-acme-main'
    asterisk_filter("a-z0-9_", ascii_lower("VİP"))  # 'vp' as ${FILTER(a-z0-9_,${TOLOWER(..)})}
"""

from __future__ import annotations

import re
from typing import Final

# ---- Asterisk names ---------------------------------------------------------------------

#: node ids cannot contain ``-``, so these never collide with a node's context
ENTRY_NODE: Final = "entry"  # the dialled numbers
HOOKS_NODE: Final = "hooks"  # the hang-up handler (``end``) and the hang-up (``hangup``)
STAFF_NODE: Final = "staff"  # account managers rung before a queue
COMPILED_NODE: Final = "compiled"  # the compiled flow of live entries
#: extensions of the hooks context: the hang-up handler, and where a flow hangs up
HANGUP_HANDLER_EXTEN: Final = "end"
HANGUP_EXTEN: Final = "hangup"


def context_name(site: str, node_id: str) -> str:
    """The context of a node, or of a site-wide part (``entry``, ``hooks``...)::

    context_name("acme", "main")   # 'cf-acme-main'
    """
    return f"cf-{site}-{node_id}"


def entry_context(site: str) -> str:
    """The context whose extensions are the site's dialled numbers."""
    return context_name(site, ENTRY_NODE)


def hooks_context(site: str) -> str:
    """The context of the hang-up handler and of the flow's hang-up."""
    return context_name(site, HOOKS_NODE)


def hangup_handler(site: str) -> str:
    """What ``CHANNEL(hangup_handler_push)`` is set to: ``cf-<site>-hooks,end,1``."""
    return f"{hooks_context(site)},{HANGUP_HANDLER_EXTEN},1"


def app_name(site: str) -> str:
    """The Stasis application of a site's live entries: ``callflow-<site>``."""
    return f"callflow-{site}"


def mailbox_context(site: str) -> str:
    """The voicemail.conf context of a site's mailboxes (``callflow-<site>``)."""
    return f"callflow-{site}"


def staff_lock(site: str, staff_id: str) -> str:
    """The func_lock name held while one call rings a person (manager first, their
    extension, a Dial node)::

    staff_lock("acme", "lily")   # 'cf-acme-staff-lily'
    """
    return f"{context_name(site, STAFF_NODE)}-{staff_id}"


#: the context an outbound campaign's answered call runs (:func:`campaign_context`)
CAMPAIGN_NODE: Final = "campaign"
#: the extension the dialer originates into in a campaign's context
CAMPAIGN_EXTEN: Final = "s"


def campaign_context(site: str, campaign_id: str) -> str:
    """The context the dialer originates a campaign's answered call into::

    campaign_context("acme", "survey")   # 'cf-acme-campaign-survey'
    """
    return context_name(site, campaign_entry(campaign_id))


def campaign_entry(campaign_id: str) -> str:
    """What a live campaign's context passes ``Stasis()`` as the call's entry (the live
    runtime then runs the answered flow from its start)::

    campaign_entry("survey")   # 'campaign-survey'
    """
    return f"{CAMPAIGN_NODE}-{campaign_id}"


def campaign_queue(site: str, campaign_id: str) -> str:
    """The queue an agent-mode campaign's answered customers wait in (its agents are the
    members of the campaign's ``connect_to``): ``<site>-campaign-<id>``."""
    return f"{site}-{CAMPAIGN_NODE}-{campaign_id}"


#: the site-wide context an agent-mode campaign's agent leg runs: extension ``s`` is the
#: Gosub run on the agent's channel the moment they answer (it reports the connection on
#: the customer's channel), extension ``autoanswer`` the pre-dial Gosub that asks a SIP
#: phone to answer by itself
CONNECTED_NODE: Final = "connected"
AUTOANSWER_EXTEN: Final = "autoanswer"


def connected_context(site: str) -> str:
    """The context of an agent-mode campaign's agent leg: ``cf-<site>-connected``."""
    return context_name(site, CONNECTED_NODE)


def queue_name(site: str, queue_id: str) -> str:
    """The app_queue name of a site's queue (what ``queue show`` takes)."""
    return f"{site}-{queue_id}"


#: the subroutine that starts a call's recording (:func:`record_context`)
RECORD_NODE: Final = "record"


def record_context(site: str) -> str:
    """The subroutine context that starts MixMonitor on a call: ``cf-<site>-record``."""
    return context_name(site, RECORD_NODE)


#: what a recording's file name may take from the call's Asterisk ids (``${UNIQUEID}``,
#: ``${LINKEDID}``), as ``FILTER()`` keeps them
RECORDING_ID_CHARS: Final = "-0-9A-Za-z._"
#: what ``CF_RECORDING`` (one or more file names, space-separated) may hold
RECORDING_FILE_CHARS: Final = "- 0-9A-Za-z_./"
#: the file extension MixMonitor writes each recording format as (``WAV`` is wav49)
RECORDING_EXTENSIONS: Final = {"wav": "wav", "gsm": "gsm", "wav49": "WAV"}
#: the parties of a split recording, the suffix of each one's file
RECORDING_LEGS: Final = ("caller", "agent")
#: the name of a file callflow recorded (and the only files ``recordings prune``
#: deletes): ``<site>-<YYYYMMDD>-<HHMMSS>-<linkedid>-<uniqueid>[-<leg>].<ext>``, made
#: only of the site, the date and time, and the call's ids
RECORDING_NAME: Final = re.compile(
    r"(?P<site>[a-z][a-z0-9_]{0,31})-(?P<day>[0-9]{8})-(?P<time>[0-9]{6})-"
    r"(?P<ids>[0-9A-Za-z._-]{1,200}?)(?:-(?P<leg>caller|agent))?\.(?P<ext>wav|gsm|WAV)"
)


def recording_dir(directory: str, site: str) -> str:
    """Where a site's recordings go, relative to Asterisk's monitor directory:
    ``<directory>/<site>`` (then one folder per day, ``YYYYMMDD``)."""
    return f"{directory}/{site}"


# ---- phones and numbers (the generated pjsip.conf and musiconhold.conf) ------------------

#: where a trunk's calls arrive (one context per trunk: ``cf-<site>-inbound-<trunk>``)
INBOUND_NODE: Final = "inbound"
#: the context of staff phones: extensions, voicemail, feature codes, the entries
PHONES_NODE: Final = "phones"
#: feature codes dialled from a staff phone (pause in every queue the phone is a member of)
FEATURE_CODES: Final = {
    "*45": ("UnpauseQueueMember", "login"),
    "*46": ("PauseQueueMember", "logout"),
    "*47": ("PauseQueueMember", "break"),
    "*48": ("UnpauseQueueMember", "break"),
}
#: the staff phone's own voicemail box
VOICEMAIL_MAIN_CODE: Final = "*97"


def inbound_context(site: str, trunk_id: str) -> str:
    """The context a trunk's endpoint sends calls to: only its mapped numbers exist."""
    return f"{context_name(site, INBOUND_NODE)}-{trunk_id}"


def phones_context(site: str) -> str:
    """The context of the site's staff phones."""
    return context_name(site, PHONES_NODE)


def trunk_endpoint(site: str, trunk_id: str) -> str:
    """The pjsip endpoint (and aor, auth, registration, identify) of a trunk."""
    return f"callflow-{site}-{trunk_id}"


def transport_name(site: str) -> str:
    """The pjsip transport a site's generated pjsip.conf defines."""
    return f"callflow-{site}-udp"


def moh_class(site: str, music: str) -> str:
    """The musiconhold.conf class a site's queues with ``music`` play."""
    return f"callflow-{site}-{music}"


# ---- channel variables ------------------------------------------------------------------

CF_SITE: Final = "CF_SITE"
CF_ENTRY: Final = "CF_ENTRY"
#: node ids visited, each with a leading space (``Set(CF_TRACE=${CF_TRACE} id)``)
CF_TRACE: Final = "CF_TRACE"
#: where the call arrived: ``queue:sales``, ``dial:alice``, ``voicemail:100``, ``hangup``
CF_DEST: Final = "CF_DEST"
#: ``queue``, ``manager`` or ``manager-then-queue``
CF_PATH: Final = "CF_PATH"
#: the queue priority the caller joined at
CF_PRIO: Final = "CF_PRIO"
#: a Unix time that time conditions read instead of the clock (tests, simulations)
CF_NOW: Final = "CF_NOW"
#: ``ok`` or ``failed`` once a Lookup ran
CF_LOOKUP: Final = "CF_LOOKUP"
CF_CUSTOMER_ID: Final = "CF_CUSTOMER_ID"
CF_TIER: Final = "CF_TIER"
CF_MANAGER: Final = "CF_MANAGER"
CF_LANG: Final = "CF_LANG"
CF_SEGMENT: Final = "CF_SEGMENT"
CF_REGION: Final = "CF_REGION"
CF_TAGS: Final = "CF_TAGS"
CF_CUSTOMER_NAME: Final = "CF_CUSTOMER_NAME"
#: the lookup server's one-variable answer (see :data:`ANSWER_VAR`)
CF_CRM: Final = "CF_CRM"
# scratch variables of the compiled contexts
CF_TRIES: Final = "CF_TRIES"
CF_TIER_KEY: Final = "CF_TIER_KEY"
CF_MANAGER_KEY: Final = "CF_MANAGER_KEY"
CF_BRANCH_KEY: Final = "CF_BRANCH_KEY"
CF_CLOCK: Final = "CF_CLOCK"
CF_WEEK: Final = "CF_WEEK"
CF_CRM_LANG: Final = "CF_CRM_LANG"
CF_DEVSTATE: Final = "CF_DEVSTATE"
#: TRYLOCK()/UNLOCK() result of the per-person ring lock (see compiler.devstate)
CF_LOCKED: Final = "CF_LOCKED"
#: the free phones of a Dial, ``&``-joined with a leading ``&`` (busy phones are not rung)
CF_FREE: Final = "CF_FREE"
#: what an Ask's Read() stores the pressed digit in (used only through FILTER())
CF_READ: Final = "CF_READ"
#: the answers of the call's Ask nodes, each `` question:digit`` (a leading space, like
#: CF_TRACE): ``" rate:4 again:1"``; see :func:`answer_entry` / :func:`parse_answers`
CF_ANSWERS: Final = "CF_ANSWERS"
#: prefix of the variable holding one question's answer (:func:`answer_var`)
CF_ANSWER_PREFIX: Final = "CF_ANSWER_"

#: outbound: the campaign and the attempt (its id is the channel id) a dialled call is for
CF_CAMPAIGN: Final = "CF_CAMPAIGN"
CF_ATTEMPT: Final = "CF_ATTEMPT"
#: outbound: what AMD() decided (``HUMAN``, ``MACHINE``, ``NOTSURE``, ``HANGUP``), empty without AMD
CF_AMD: Final = "CF_AMD"
#: what Asterisk's ``AMD()`` sets: ``MACHINE``, ``HUMAN``, ``NOTSURE`` or ``HANGUP``
AMDSTATUS: Final = "AMDSTATUS"
#: outbound: ``1`` once the callee pressed the campaign's opt-out digit
CF_OPTOUT: Final = "CF_OPTOUT"
#: an agent-mode campaign call: "1" once an agent was connected, the ms the customer
#: waited for one, "1" when no agent came within the limit (the safe-harbour message
#: played), the agent who took it (staff id)
CF_CONNECTED: Final = "CF_CONNECTED"
CF_WAITED_MS: Final = "CF_WAITED_MS"
CF_ABANDONED: Final = "CF_ABANDONED"
CF_AGENT: Final = "CF_AGENT"
#: the call's recording file(s), relative to Asterisk's monitor directory, space-separated
#: (a split recording has two); the record subroutine sets it (as a ``SHARED()`` variable
#: of the caller's channel when it runs on the agent's), the hang-up handler reports it
CF_RECORDING: Final = "CF_RECORDING"
#: set by the dialer on an agent-mode campaign call: the staff id of the agent reserved
#: for this customer (a protected tier, an accepted preview); rung first (filtered to
#: ``a-z0-9_``, and only a staff id of the site is rung)
CF_AGENT_PIN: Final = "CF_AGENT_PIN"
#: scratch variables of the agent leg: the Unix time in ms the customer started waiting
#: for an agent (answer, or the end of AMD), the ms left of the abandon limit, the
#: filtered pinned agent
CF_WAIT_START_MS: Final = "CF_WAIT_START_MS"
CF_LEFT_MS: Final = "CF_LEFT_MS"
CF_PIN_KEY: Final = "CF_PIN_KEY"

#: the keys ``Read()`` can return: one DTMF digit (``#`` ends the input instead)
READ_KEYS: Final = "0-9*A-D"
#: the key that ends ``Read()``'s input: pressed first, it reads as silence
READ_TERMINATOR: Final = "#"


def answer_var(question: str) -> str:
    """The channel variable an Ask stores its answer in::

    answer_var("rate")   # 'CF_ANSWER_rate'
    """
    return f"{CF_ANSWER_PREFIX}{question}"


def answer_entry(question: str, answer: str) -> str:
    """What an answer appends to ``CF_ANSWERS``: ``" rate:4"``."""
    return f" {question}:{answer}"


def parse_answers(text: str) -> list[tuple[str, str]]:
    """The ``(question, digits)`` pairs of a ``CF_ANSWERS`` value, in order; anything
    that is not ``question:digits`` is dropped::

    parse_answers(" rate:4 again:1")   # [('rate', '4'), ('again', '1')]
    """
    out = []
    for item in text.split():
        question, sep, answer = item.partition(":")
        if sep and question and answer.isascii() and answer.isdigit():
            out.append((question, answer))
    return out


#: Asterisk's own channel variables and functions the flows set
CALLERID_NAME: Final = "CALLERID(name)"
CALLERID_NUM: Final = "CALLERID(num)"
CHANNEL_LANGUAGE: Final = "CHANNEL(language)"
HANGUP_HANDLER_PUSH: Final = "CHANNEL(hangup_handler_push)"

#: the customer variables a lookup sets; cleared when it fails (CF_LANG is not: a
#: language chosen earlier stays)
CUSTOMER_VARS: Final = (CF_CUSTOMER_ID, CF_TIER, CF_MANAGER, CF_SEGMENT, CF_REGION, CF_TAGS)

#: what a Branch node's ``attribute`` reads
BRANCH_VARS: Final = {
    "tier": CF_TIER,
    "segment": CF_SEGMENT,
    "language": CF_LANG,
    "region": CF_REGION,
    "tags": CF_TAGS,
}

#: The lookup server answers in this one channel variable (one AGI round trip):
#: ``ok:<number>`` for a caller not in the CRM, where ``<number>`` is the filtered caller
#: number it was asked about (the dialplan accepts an answer only for its own caller);
#: for a customer ``ok:<number>`` then, for each name of
#: ``ANSWER_FIELDS`` in order, ``.`` and the base64 of ``ANSWER_PAD`` + the value. The
#: compiled Lookup node unpacks it with ``CUT()``/``BASE64_DECODE()``; the pad keeps an
#: empty value a non-empty field (Asterisk warns on ``BASE64_DECODE()`` of nothing) and
#: ``${...:1}`` drops it again.
ANSWER_VAR: Final = CF_CRM
ANSWER_FIELDS: Final = (
    CF_CUSTOMER_ID,
    CF_TIER,
    CF_MANAGER,
    CF_LANG,
    CF_SEGMENT,
    CF_REGION,
    CF_TAGS,
    CF_CUSTOMER_NAME,
)
ANSWER_PAD: Final = "-"

#: the customer attribute (as the CRM and :class:`callflow.simulate.Script` name it) ->
#: the channel variable the lookup sets
CUSTOMER_FIELDS: Final = {
    "id": CF_CUSTOMER_ID,
    "tier": CF_TIER,
    "manager": CF_MANAGER,
    "language": CF_LANG,
    "segment": CF_SEGMENT,
    "region": CF_REGION,
    "tags": CF_TAGS,
    "name": CF_CUSTOMER_NAME,
}

# ---- the CallflowEnd event --------------------------------------------------------------

#: the AMI ``UserEvent`` name the hang-up handler sends at the end of every call
END_EVENT: Final = "CallflowEnd"

# ---- agent-mode outbound: reservations and preview offers ---------------------------------

#: the queue pause reason of an agent the dialer holds for an attempt:
#: ``callflow:<attempt id>`` (``queue show`` and a resync read it back from Asterisk)
RESERVE_REASON_PREFIX: Final = "callflow:"
#: the AMI ``UserEvent`` that offers a preview contact to an agent (docs/outbound.md)
OFFER_EVENT: Final = "CallflowOffer"
#: its headers, in order: attempt id, site, campaign, agent (staff id), number (E.164),
#: customer name (control characters removed), offered at and expires at (ISO 8601 UTC)
OFFER_FIELDS: Final = ("Attempt", "Site", "Campaign", "Agent", "Number", "Name", "OfferedAt",
                       "Expires")  # fmt: skip

#: the ``FILTER()`` sets that make values safe: identifiers, digits, words, tags
IDENT: Final = "a-z0-9_"
DIGITS: Final = "0-9"
LETTERS: Final = "a-z"
UPPER: Final = "A-Z"
TAG_LIST: Final = "a-z0-9_."
#: what the compiled Lookup passes the CRM: ``${FILTER(0-9+,${CALLERID(num)})}``
NUMBER: Final = "0-9+"

#: the event's fields in order: field -> (channel variable, FILTER() set or None)
END_FIELDS: Final[dict[str, tuple[str, str | None]]] = {
    "site": (CF_SITE, None),
    "entry": (CF_ENTRY, None),
    "trace": (CF_TRACE, None),
    "dest": (CF_DEST, None),
    "path": (CF_PATH, None),
    "tier": (CF_TIER, IDENT),
    "prio": (CF_PRIO, None),
    "customer": (CF_CUSTOMER_ID, DIGITS),
    "manager": (CF_MANAGER, IDENT),
    "lookup": (CF_LOOKUP, LETTERS),
    "answers": (CF_ANSWERS, None),
    "campaign": (CF_CAMPAIGN, IDENT),
    "attempt": (CF_ATTEMPT, IDENT),
    "amd": (CF_AMD, None),
    "optout": (CF_OPTOUT, DIGITS),
    "recording": (CF_RECORDING, RECORDING_FILE_CHARS),
}


def end_field(name: str, variables: dict[str, str]) -> str:
    """What the end event's field ``name`` carries for a call holding ``variables``."""
    var, allowed = END_FIELDS[name]
    value = variables.get(var, "")
    return value if allowed is None else asterisk_filter(allowed, value)


# ---- Asterisk's string functions ----------------------------------------------------------

_ASCII_LOWER: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(value: str) -> str:
    """Asterisk's ``TOLOWER()``: C ``tolower()`` on each byte in the C locale, so only
    ``A-Z`` change; every other character (``İ``, the Kelvin sign, full-width letters)
    is left as it is, unlike :meth:`str.lower`::

        ascii_lower("VİP")   # 'vİp'
    """
    return value.translate(_ASCII_LOWER)


def _allowed_bytes(allowed: str) -> frozenset[int]:
    """The byte set of a ``FILTER()`` first argument: bytes and ``x-y`` ranges."""
    raw = allowed.encode()
    out: set[int] = set()
    i = 0
    while i < len(raw):
        if i + 2 < len(raw) and raw[i + 1] == ord("-"):
            lo, hi = raw[i], raw[i + 2]
            if hi < lo:  # Asterisk wraps around the byte values; nothing here needs that
                raise ValueError(f"FILTER range {raw[i : i + 3].decode()} is backwards")
            out.update(range(lo, hi + 1))
            i += 3
        else:
            out.add(raw[i])
            i += 1
    return frozenset(out)


def asterisk_filter(allowed: str, value: str) -> str:
    """Asterisk's ``FILTER(allowed,value)``: keep the bytes of ``value``'s UTF-8 that are
    in ``allowed`` (single bytes and ``a-z`` style ranges), drop the rest::

        asterisk_filter("a-z0-9_", "vİp 1")   # 'vp1'
    """
    keep = _allowed_bytes(allowed)
    return bytes(b for b in value.encode() if b in keep).decode(errors="surrogateescape")


def lowered_key(allowed: str, value: str) -> str:
    """``${FILTER(allowed,${TOLOWER(value)})}``: how the dialplan turns a CRM value into
    the key it compares (tiers, branch values, tags)."""
    return asterisk_filter(allowed, ascii_lower(value))


def lookup_number(caller: str) -> str:
    """The number a Lookup asks the CRM about, as the compiled node passes it:
    ``${FILTER(0-9+,${CALLERID(num)})}``."""
    return asterisk_filter(NUMBER, caller)
