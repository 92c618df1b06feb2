"""Whether a phone may be rung, as the dialplan asks Asterisk: ``DEVICE_STATE()`` of its
device, compared with the states in which it is not (in use, ringing, on hold, gone).

Used by every place that rings a person only when free: the account manager before a
queue, the front desk of ``human_first`` and the staff phones' extensions::

    busy_check("PJSIP/1001", "away", "Lily")   # Set(CF_DEVSTATE=...), GotoIf(...?away)

A device's state changes only once its new call exists, so two calls that read it in the
same instant both find the phone free. Where one person is rung by a single ``Dial``
(account manager, extension), :func:`ring_lock` closes that gap: a named lock per person
(func_lock's ``TRYLOCK``), held from the check to the end of the ``Dial``::

    (*busy_check(dev, "away", "Lily"), *ring_lock("cf-acme-staff-lily", "locked"),
     Dial(...), release("cf-acme-staff-lily"), ...)
"""

from __future__ import annotations

from collections.abc import Iterable

from callflow.compiler.escape import comment
from callflow.compiler.ir import Step
from callflow.contract import CF_DEVSTATE, CF_LOCKED

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


def ring_lock(name: str, jump: str) -> tuple[Step, Step]:
    """Take the lock ``name`` or go to label ``jump``: another call is between its own
    check and its ring (set ``CF_DEVSTATE`` to :data:`LOCKED_STATE` there)."""
    return (
        Step("Set", f"{CF_LOCKED}=${{TRYLOCK({name})}}"),
        Step("GotoIf", f'$["${{{CF_LOCKED}}}" != "1"]?{jump}'),
    )


def release(name: str) -> Step:
    """Free the lock ``name`` (Asterisk frees it too when the channel ends)."""
    return Step("Set", f"{CF_LOCKED}=${{UNLOCK({name})}}")
