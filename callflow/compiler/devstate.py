"""Whether a phone may be rung, as the dialplan asks Asterisk: ``DEVICE_STATE()`` of its
device, compared with the states in which it is not (in use, ringing, on hold, gone).

Used by every place that rings a person only when free: the account manager before a
queue, the front desk of ``human_first`` and the staff phones' extensions::

    busy_check("PJSIP/1001", "away", "Lily")   # Set(CF_DEVSTATE=...), GotoIf(...?away)
"""

from __future__ import annotations

from collections.abc import Iterable

from callflow.compiler.escape import comment
from callflow.compiler.ir import Step
from callflow.contract import CF_DEVSTATE

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
