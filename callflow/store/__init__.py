"""The CRM store: customers, staff, call records and survey answers, in SQL.

Independent of flows: nothing here imports the model, compiler or runtime. Typical use::

    upgrade("sqlite:///callflow.db")
    with make_sessionmaker(make_engine()).begin() as session:
        view = CustomerRepository().find_by_phone(session, "138 0013 8000")
"""

from callflow.store.base import Base
from callflow.store.call_records import CallRecord
from callflow.store.campaigns import (
    CampaignAttempt,
    CampaignContact,
    CampaignState,
    Dialer,
    DncNumber,
)
from callflow.store.customers import Customer, CustomerPhone, CustomerTag
from callflow.store.engine import (
    make_engine,
    make_lookup_engine,
    make_sessionmaker,
    resolve_url,
    safe_url,
)
from callflow.store.errors import (
    CsvFormatError,
    DatabaseError,
    InvalidPhone,
    InvalidValue,
    StoreError,
)
from callflow.store.health import database_errors
from callflow.store.migrate import (
    check_store,
    current_revision,
    head_revision,
    require_schema,
    upgrade,
)
from callflow.store.phones import normalize_phone, try_normalize_phone
from callflow.store.staff import Staff, StaffGroup
from callflow.store.surveys import SurveyResponse

__all__ = [
    "Base",
    "CallRecord",
    "CampaignAttempt",
    "CampaignContact",
    "CampaignState",
    "CsvFormatError",
    "Customer",
    "CustomerPhone",
    "CustomerTag",
    "DatabaseError",
    "Dialer",
    "DncNumber",
    "InvalidPhone",
    "InvalidValue",
    "Staff",
    "StaffGroup",
    "StoreError",
    "SurveyResponse",
    "check_store",
    "current_revision",
    "database_errors",
    "head_revision",
    "make_engine",
    "make_lookup_engine",
    "make_sessionmaker",
    "normalize_phone",
    "require_schema",
    "resolve_url",
    "safe_url",
    "try_normalize_phone",
    "upgrade",
]
