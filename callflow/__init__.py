"""callflow: declare a phone contact centre in Python, compile it to Asterisk or run it live.

from callflow import Site, Menu, Queue, Staff, compile_site
site = Site(name="shop", entries={"100": "main"}, staff=[...], nodes=[...])
compile_site(site).files["extensions.conf"]
"""

from callflow.compiler import compile_site
from callflow.errors import CallflowError, Diagnostic, ValidationError
from callflow.model import (
    Ask,
    Audience,
    Branch,
    CallingWindow,
    Campaign,
    Dial,
    Goto,
    Hangup,
    Hours,
    LanguageSelect,
    Lookup,
    LookupSettings,
    Member,
    Menu,
    Node,
    Phones,
    Play,
    PriorityRule,
    Prompt,
    Queue,
    Recording,
    Site,
    Staff,
    SurveyQuestion,
    TimeCondition,
    Trunk,
    Voicemail,
    human_first,
)
from callflow.validate import check, validate

__version__ = "0.1.0"

__all__ = [
    "Ask",
    "Audience",
    "Branch",
    "CallflowError",
    "CallingWindow",
    "Campaign",
    "Diagnostic",
    "Dial",
    "Goto",
    "Hangup",
    "Hours",
    "LanguageSelect",
    "Lookup",
    "LookupSettings",
    "Member",
    "Menu",
    "Node",
    "Phones",
    "Play",
    "PriorityRule",
    "Prompt",
    "Queue",
    "Recording",
    "Site",
    "Staff",
    "SurveyQuestion",
    "TimeCondition",
    "Trunk",
    "ValidationError",
    "Voicemail",
    "check",
    "compile_site",
    "human_first",
    "validate",
]
