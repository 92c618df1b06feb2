"""How an outbound attempt ended, and whether the contact is tried again.

Asterisk reports the end of an originated channel as ``ChannelDestroyed`` with a Q.850
``cause`` (PJSIP maps SIP codes onto them: 486 -> 17 busy, 480 -> 19, 404 -> 1, ...);
an endpoint refused up front is ``HTTP 500 Allocation failed`` (pass ``cause=None`` and
``allocation_failed=True``)::

    disposition_for_cause(17, answered=False, amd=None)        # 'busy'
    disposition_for_cause(16, answered=True, amd="MACHINE")    # 'machine_message'
    is_final("busy")                                           # False: retried later
"""

from __future__ import annotations

from typing import Final

HUMAN: Final = "human"
MACHINE_MESSAGE: Final = "machine_message"
MACHINE_HANGUP: Final = "machine_hangup"
BUSY: Final = "busy"
NO_ANSWER: Final = "no_answer"
REJECTED: Final = "rejected"
INVALID_NUMBER: Final = "invalid_number"
CONGESTION: Final = "congestion"
FAILED: Final = "failed"
UNKNOWN: Final = "unknown"
OPTOUT: Final = "optout"
#: preview mode: the agent skipped the offered contact, or nobody accepted it in time;
#: nothing was dialled, the contact goes back to pending without using up an attempt
SKIPPED: Final = "skipped"
OFFER_EXPIRED: Final = "offer_expired"
#: a person answered and no agent was connected within the campaign's abandon limit: they
#: heard the safe-harbour message; retried (after the abandon lockout)
ABANDONED: Final = "abandoned"

DISPOSITIONS: Final = (
    HUMAN,
    MACHINE_MESSAGE,
    MACHINE_HANGUP,
    BUSY,
    NO_ANSWER,
    REJECTED,
    INVALID_NUMBER,
    CONGESTION,
    FAILED,
    UNKNOWN,
    OPTOUT,
    SKIPPED,
    OFFER_EXPIRED,
    ABANDONED,
)

#: Dispositions of attempts that were never dialled (preview offers not taken): not
#: counted as dialled, nor against a number's per-day caps.
NOT_DIALLED: Final = frozenset({SKIPPED, OFFER_EXPIRED})

#: Dispositions after which the contact is not called again by this campaign.
FINAL: Final = frozenset({HUMAN, MACHINE_MESSAGE, REJECTED, INVALID_NUMBER, OPTOUT})
#: Dispositions retried after ``retry_after_minutes`` until ``max_attempts``. ``unknown``
#: (the dialer crashed and Asterisk has no trace of the channel) counts as an attempt.
RETRYABLE: Final = frozenset(set(DISPOSITIONS) - FINAL - NOT_DIALLED)

#: Q.850 causes of a call that never connected, by disposition.
CAUSES: Final[dict[int, str]] = {
    17: BUSY,
    18: NO_ANSWER,
    19: NO_ANSWER,  # also Asterisk's own ring timeout
    20: NO_ANSWER,  # subscriber absent
    21: REJECTED,
    1: INVALID_NUMBER,
    22: INVALID_NUMBER,
    28: INVALID_NUMBER,
    27: CONGESTION,
    34: CONGESTION,
    38: CONGESTION,
    127: CONGESTION,
}

#: AMD() statuses that mean a machine answered.
MACHINE_STATUSES: Final = frozenset({"MACHINE"})


def disposition_for_cause(
    cause: int | None,
    answered: bool,
    amd: str | None,
    *,
    allocation_failed: bool = False,
    amd_hangs_up: bool = False,
) -> str:
    """The disposition of a finished attempt.

    *answered*: the callee answered (the channel went Up). *amd*: ``AMDSTATUS`` if AMD
    ran (MACHINE | HUMAN | NOTSURE | HANGUP). *amd_hangs_up*: the campaign hangs up on
    machines (so a machine answer is ``machine_hangup``, not ``machine_message``).
    *allocation_failed*: the originate was refused with HTTP 500 "Allocation failed".

        disposition_for_cause(None, False, None, allocation_failed=True)   # 'congestion'
        disposition_for_cause(16, True, "HUMAN")                           # 'human'
        disposition_for_cause(16, True, "MACHINE", amd_hangs_up=True)      # 'machine_hangup'
        disposition_for_cause(99, False, None)                             # 'failed'
    """
    if allocation_failed:
        return CONGESTION
    if answered:
        if amd is not None and amd.upper() in MACHINE_STATUSES:
            return MACHINE_HANGUP if amd_hangs_up else MACHINE_MESSAGE
        return HUMAN
    if cause is None:
        return FAILED
    return CAUSES.get(cause, FAILED)


def is_final(disposition: str) -> bool:
    """Whether *disposition* ends the contact's attempts (else it is retried)."""
    if disposition not in DISPOSITIONS:
        raise ValueError(f"unknown disposition {disposition!r}; known: {', '.join(DISPOSITIONS)}")
    return disposition in FINAL


def contact_status(disposition: str, attempts: int, max_attempts: int) -> str:
    """The contact's status after an attempt ended with *disposition*.

    ``optout`` -> "optout"; ``invalid_number`` -> "failed"; other final -> "done";
    retryable -> "pending", or "failed" once *attempts* reached *max_attempts*.
    """
    if disposition == OPTOUT:
        return "optout"
    if disposition == INVALID_NUMBER:
        return "failed"
    if is_final(disposition):
        return "done"
    return "failed" if attempts >= max_attempts else "pending"
