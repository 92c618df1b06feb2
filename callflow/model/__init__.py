"""The declarative model: pure data describing a contact centre (no I/O, no Asterisk)."""

from callflow.model.campaigns import Audience, CallingWindow, Campaign, SurveyQuestion
from callflow.model.nodes import (
    Ask,
    Branch,
    Dial,
    Goto,
    Hangup,
    LanguageSelect,
    Lookup,
    Member,
    Menu,
    Node,
    Play,
    PriorityRule,
    Queue,
    Retrying,
    TimeCondition,
    Voicemail,
    human_first,
)
from callflow.model.phones import Phones, Trunk
from callflow.model.prompts import Prompt, Prompts, prompt_fields
from callflow.model.recording import Recording
from callflow.model.schedule import Hours
from callflow.model.site import LookupSettings, Site
from callflow.model.staff import Staff
from callflow.model.visitor import NodeVisitor

__all__ = [
    "Ask",
    "Audience",
    "Branch",
    "CallingWindow",
    "Campaign",
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
    "NodeVisitor",
    "Phones",
    "Play",
    "PriorityRule",
    "Prompt",
    "Prompts",
    "Queue",
    "Recording",
    "Retrying",
    "Site",
    "Staff",
    "SurveyQuestion",
    "TimeCondition",
    "Trunk",
    "Voicemail",
    "human_first",
    "prompt_fields",
]
