"""A site whose campaigns call numbers in many time zones (campaign check golden file)."""

import datetime as dt

from callflow import Dial, Site, Staff
from callflow.model.campaigns import CallingWindow, Campaign
from callflow.model.schedule import Hours

site = Site(
    name="globe",
    timezone="Asia/Shanghai",
    entries={"100": "front"},
    staff=[Staff("ann", name="Ann", device="PJSIP/1")],
    nodes=[Dial(id="front", target="ann", ring=15)],
    campaigns=[
        # US TSR hours (8:00-21:00 callee time), US holidays, caps per number
        Campaign(
            id="tsr",
            kind="playback",
            message="custom/recall",
            caller_id="+12125550000",
            window=CallingWindow(hours=(Hours("mon-sun", "08:00", "21:00"),)),
            country="US",
            max_per_day=1,
        ),
        # office hours in China, with the package's holidays and make-up working days
        # plus a site holiday
        Campaign(
            id="cn",
            kind="playback",
            message="custom/recall",
            caller_id="+862112345678",
            window=CallingWindow(hours=(Hours("mon-fri", "09:00", "18:00"),)),
            country="CN",
            holidays=(dt.date(2026, 9, 21),),
        ),
        Campaign(
            id="nocid",
            kind="playback",
            message="custom/recall",
            window=CallingWindow(hours=(Hours("mon-sun", "08:00", "21:00"),)),
        ),
    ],
)
