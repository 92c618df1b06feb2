"""Whether a phone may be rung, as the dialplan asks Asterisk: ``DEVICE_STATE()`` of its
device, compared with the states in which it is not (in use, ringing, on hold, gone).

Used by every place that rings a person only when free: the account manager before a
queue, the front desk of ``human_first`` and the staff phones' extensions::

    busy_check("PJSIP/1001", "away", "Lily")   # Set(CF_DEVSTATE=...), GotoIf(...?away)

A device's state changes only once its new call exists, so two calls that read it in the
same instant both find the phone free. Every ring of a person (account manager, extension,
a ``Dial`` node's phones) therefore takes :func:`take_phone`: the state check, then a named
lock per person (func_lock's ``TRYLOCK``, :func:`callflow.contract.staff_lock`), held to
the end of the ``Dial``::

    (*take_phone("acme", lily, "away", "locked"), Dial(...), release("acme", "lily"), ...)
"""

from __future__ import annotations

from collections.abc import Iterable

from callflow.compiler.escape import comment
from callflow.compiler.ir import Step
from callflow.contract import CF_DEVSTATE, CF_LOCKED, staff_lock
from callflow.model.staff import Staff

#: device states in which a phone is not rung (a busy phone gets no second call)
AWAY = ("INUSE", "BUSY", "UNAVAILABLE", "INVALID", "RINGING", "RINGINUSE", "ONHOLD")


def state_device(device: str) -> str:
    """The device ``DEVICE_STATE()`` knows: a dial string without Local's ``/n``."""
    return device.removesuffix("/n")


def any_equal(name: str, values: Iterable[str]) -> str:
    """A dialplan expression: the variable ``name`` equals one of ``values``."""
    return " | ".join(f'"${{{name}}}" = "{v}"' for v in values)


def busy_check(device: str, jump: str, note: str) -> tuple[Step, Step]:
    """Read ``device``'s state into ``CF_DEVSTATE`` and go to label ``jump`` when it is
    one of :data:`AWAY`; ``note`` (a person's name) becomes the first step's comment."""
    return (
        Step(
            "Set",
            f"{CF_DEVSTATE}=${{DEVICE_STATE({state_device(device)})}}",
            comment=comment(note),
        ),
        Step("GotoIf", f"$[{any_equal(CF_DEVSTATE, AWAY)}]?{jump}"),
    )


#: what ``CF_DEVSTATE`` says when the phone was free but another call is ringing it
LOCKED_STATE = "RINGING"


def take_phone(site: str, person: Staff, away: str, locked: str | None = None) -> tuple[Step, ...]:
    """:func:`busy_check` of ``person``'s device (to label ``away``), then their ring
    lock: go to label ``locked`` (default ``away``) when another call holds it, being
    between its own check and its ring (set ``CF_DEVSTATE`` to :data:`LOCKED_STATE`
    there if the caller reads it). Free the lock with :func:`release` after the Dial."""
    return (
        *busy_check(person.device, away, person.name),
        Step("Set", f"{CF_LOCKED}=${{TRYLOCK({staff_lock(site, person.id)})}}"),
        Step("GotoIf", f'$["${{{CF_LOCKED}}}" != "1"]?{locked or away}'),
    )


def release(site: str, person_id: str) -> Step:
    """Free the person's ring lock (Asterisk frees it too when the channel ends)."""
    return Step("Set", f"{CF_LOCKED}=${{UNLOCK({staff_lock(site, person_id)})}}")
