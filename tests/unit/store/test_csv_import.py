"""CSV import: row-level errors with line numbers, one transaction, idempotent re-import."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.orm import Session

from callflow.store import Customer, CustomerPhone, CustomerTag, Staff
from callflow.store.csv_import import ImportReport, RowError, import_customers, import_staff
from callflow.store.errors import CsvFormatError
from callflow.store.repositories import CustomerRepository

HEADER = ["phone", "name", "tier", "value", "manager", "region", "language", "timezone", "tags"]


def write(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def staff_csv(tmp_path: Path) -> Path:
    return write(
        tmp_path / "staff.csv",
        [["alice", "Alice Wang", "PJSIP/1001", "sales;care"], ["bob", "Bob", "PJSIP/1002", ""]],
        ["id", "name", "device", "groups"],
    )


@pytest.fixture
def with_staff(engine: Engine, staff_csv: Path) -> Engine:
    report = import_staff(engine, staff_csv)
    assert (report.inserted, report.errors) == (2, [])
    return engine


def count(engine: Engine, table: type) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


GOOD = [
    [
        "13800138000;010 6552 9988",
        "Li Lei",
        "VIP",
        "98000",
        "alice",
        "Beijing",
        "zh-CN",
        "Asia/Shanghai",
        "suv;fleet",
    ],
    ["13700137000", "Han Meimei", "", "", "", "", "", "", ""],
]


def test_import_then_reimport_is_unchanged(with_staff: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "customers.csv", GOOD)
    first = import_customers(with_staff, path)
    assert (first.inserted, first.updated, first.unchanged, first.errors) == (2, 0, 0, [])
    second = import_customers(with_staff, path)
    assert (second.inserted, second.updated, second.unchanged, second.errors) == (0, 0, 2, [])
    assert (count(with_staff, Customer), count(with_staff, CustomerPhone)) == (2, 3)
    with Session(with_staff) as session:
        view = CustomerRepository().find_by_phone(session, "01065529988")
    assert view is not None
    assert (view.tier, view.value, view.manager_device, view.tags) == (
        "vip",
        Decimal("98000.00"),
        "PJSIP/1001",
        ("fleet", "suv"),
    )
    assert str(second) == "customers.csv: 0 inserted, 0 updated, 2 unchanged, 0 errors"


def test_reimport_with_changes_updates_in_place(with_staff: Engine, tmp_path: Path) -> None:
    import_customers(with_staff, write(tmp_path / "customers.csv", GOOD))
    changed = [
        [
            "13800138000;13900139000",
            "Li Lei",
            "gold",
            "98000",
            "bob",
            "Beijing",
            "zh-CN",
            "Asia/Shanghai",
            "fleet;new",
        ],
        ["13700137000", "Han Meimei", "", "", "", "", "", "", ""],
        ["13600136000", "New Person", "", "", "", "", "", "", ""],
    ]
    report = import_customers(with_staff, write(tmp_path / "customers.csv", changed))
    assert (report.inserted, report.updated, report.unchanged, report.errors) == (1, 1, 1, [])
    with Session(with_staff) as session:
        view = CustomerRepository().find_by_phone(session, "13900139000")
        assert view is not None
        assert (view.tier, view.manager_id, view.tags) == ("gold", "bob", ("fleet", "new"))
        assert CustomerRepository().find_by_phone(session, "01065529988") == view  # kept
    assert count(with_staff, Customer) == 3


def test_bad_rows_are_reported_with_line_numbers(with_staff: Engine, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(
        "phone,name,tier,value,manager,region,language,timezone,tags\n"
        '13800138000,"Multi\nline name",vip,1,,,,,\n'  # lines 2-3
        "12ab,Bad Phone,,,,,,,\n"  # line 4
        "\n"  # line 5: blank, skipped
        "13700137000,Bad Zone,,,,,,Mars/Olympus,\n"  # 6
        "13600136000,Bad Manager,,,zed,,,,\n"  # 7
        "13500135000,Bad Value,,lots,,,,,\n"  # 8
        "13800138000,Same Phone,,,,,,,\n"  # 9
        "13400134000,Too,Many,Fields,,,,,,,\n"  # 10
        ",No Phone,,,,,,,\n"  # 11
        "13300133000,Fine,,,,,,,\n",  # 12
        encoding="utf-8",
    )
    report = import_customers(with_staff, path)
    assert report.inserted == 2
    assert report.messages() == [
        "customers.csv:4: phone '12ab' is not a valid number for region CN",
        "customers.csv:6: time zone 'Mars/Olympus' is not an IANA name (e.g. Asia/Shanghai)",
        "customers.csv:7: manager 'zed' is not a known staff id (import staff first)",
        "customers.csv:8: value 'lots' is not a number",
        "customers.csv:9: phone +8613800138000 is already on line 2",
        "customers.csv:10: has 11 fields, the header has 9",
        "customers.csv:11: no phone number given",
    ]
    assert report.errors[0] == RowError(4, "phone '12ab' is not a valid number for region CN")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("phone,name,teir\n", r"customers.csv:1: unknown column 'teir'"),
        ("name,tier\n", r"customers.csv:1: missing column 'phone'"),
        ("phone,name,name\n", r"column 'name' appears twice"),
        ("", r"empty file"),
    ],
)
def test_unusable_files_are_refused_whole(
    engine: Engine, tmp_path: Path, header: str, message: str
) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(header + "13800138000,x,y\n" if header else "", encoding="utf-8")
    with pytest.raises(CsvFormatError, match=message):
        import_customers(engine, path)


def test_optional_columns_can_be_left_out(with_staff: Engine, tmp_path: Path) -> None:
    import_customers(with_staff, write(tmp_path / "customers.csv", GOOD))
    rename = write(tmp_path / "names.csv", [["13800138000", "Li Lei (renamed)"]], ["phone", "name"])
    report = import_customers(with_staff, rename)
    assert (report.updated, report.errors) == (1, [])
    with Session(with_staff) as session:
        view = CustomerRepository().find_by_phone(session, "13800138000")
    assert view is not None
    assert (view.name, view.tier, view.tags) == ("Li Lei (renamed)", "vip", ("fleet", "suv"))


HOSTILE = [
    ",)${SHELL(touch PWNED)}",
    "$(touch PWNED) `touch PWNED`",
    "Robert'); DROP TABLE customers;--",
    'He said "hi", then left',
    "line one\nline two\r\nline three",
    "  leading and trailing  ",
    "李雷 🚗 \u202eevil\u202c",
    "\\N;NULL;%s;:name;?",
]


def test_hostile_content_round_trips_verbatim(with_staff: Engine, tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"
    names = [h.replace("PWNED", str(pwned)) for h in HOSTILE]
    rows = [
        [f"1380013800{i}", name, "", "", "", "", "", "", "hostile"] for i, name in enumerate(names)
    ]
    path = write(tmp_path / "customers.csv", rows)
    report = import_customers(with_staff, path)
    assert (report.inserted, report.errors) == (len(names), [])
    with Session(with_staff) as session:
        query = select(CustomerPhone.phone, Customer.name).join(Customer)
        stored = {phone: name for phone, name in session.execute(query)}
        for i, name in enumerate(names):
            assert stored[f"+861380013800{i}"].encode() == name.encode()
    assert not pwned.exists()
    assert "customers" in inspect(with_staff).get_table_names()
    assert import_customers(with_staff, path).unchanged == len(names)


def test_strict_mode_imports_nothing_on_error(with_staff: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "customers.csv", [*GOOD, ["12ab", "x", "", "", "", "", "", "", ""]])
    report = import_customers(with_staff, path, strict=True)
    assert (report.inserted, len(report.errors)) == (0, 1)
    assert count(with_staff, Customer) == 0


def test_session_import_joins_the_callers_transaction(with_staff: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "customers.csv", GOOD)
    with Session(with_staff) as session:
        report = import_customers(session, path)
        assert report.inserted == 2
        assert session.scalar(select(func.count()).select_from(Customer)) == 2
        session.rollback()
    assert count(with_staff, Customer) == 0


def test_one_transaction_rolls_back_everything(
    with_staff: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import callflow.store.csv_import as module

    def explode(*_args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(module, "_update_existing", explode)
    with pytest.raises(RuntimeError, match="disk full"):
        import_customers(with_staff, write(tmp_path / "customers.csv", GOOD))
    assert (
        count(with_staff, Customer),
        count(with_staff, CustomerPhone),
        count(with_staff, CustomerTag),
    ) == (0, 0, 0)


def test_a_customer_claimed_twice_in_one_file(with_staff: Engine, tmp_path: Path) -> None:
    import_customers(with_staff, write(tmp_path / "customers.csv", GOOD))
    rows = [
        ["13800138000", "Li Lei", "", "", "", "", "", "", ""],
        ["01065529988", "Li Lei again", "", "", "", "", "", "", ""],
        ["13800138000;13700137000", "Merged?", "", "", "", "", "", "", ""],
    ]
    report = import_customers(with_staff, write(tmp_path / "again.csv", rows))
    assert report.messages() == [
        "again.csv:3: customer #1 is already updated by line 2",
        "again.csv:4: phone +8613800138000 is already on line 2",
    ]


def test_many_rows_batch_correctly(with_staff: Engine, tmp_path: Path) -> None:
    rows = [
        [f"139{n:08d}", f"C{n}", "", str(n), "", "", "", "", "t1;t2" if n % 2 else ""]
        for n in range(2500)
    ]
    path = write(tmp_path / "customers.csv", rows)
    assert import_customers(with_staff, path).inserted == 2500
    rows[7][8] = "t3"  # one change among many
    report = import_customers(with_staff, write(path, rows))
    assert (report.updated, report.unchanged) == (1, 2499)
    assert count(with_staff, CustomerTag) == 1250 * 2 - 2 + 1
    with Session(with_staff) as session:
        view = CustomerRepository().find_by_phone(session, "13900002499")
    assert view is not None and view.value == Decimal("2499.00") and view.tags == ("t1", "t2")


def test_staff_import(engine: Engine, staff_csv: Path, tmp_path: Path) -> None:
    assert (
        str(import_staff(engine, staff_csv))
        == "staff.csv: 2 inserted, 0 updated, 0 unchanged, 0 errors"
    )
    assert import_staff(engine, staff_csv).unchanged == 2
    path = write(
        tmp_path / "staff2.csv",
        [
            ["alice", "Alice Wang", "PJSIP/1001", "sales"],
            ["Bad Id", "x", "PJSIP/1", ""],
            ["carol", "Carol", "PJSIP/1003&PJSIP/1004", ""],
            ["alice", "dup", "PJSIP/1", ""],
        ],
        ["id", "name", "device", "groups"],
    )
    report = import_staff(engine, path)
    assert (report.updated, report.unchanged) == (1, 0)
    assert [e.line for e in report.errors] == [3, 4, 5]
    assert "staff id 'alice' is already on line 2" in report.errors[2].reason
    with Session(engine) as session:
        alice = session.get(Staff, "alice")
        assert alice is not None and alice.group_names == {"sales"}


def test_report_counts() -> None:
    report = ImportReport("x/customers.csv", inserted=1, errors=[RowError(3, "bad")])
    assert report.imported == 1 and report.messages() == ["customers.csv:3: bad"]
