"""CSV import, file-level problems: encodings, broken quoting, oversized fields, unreadable
files, and the per-row checks on phones, tiers and regions. Each gives one message with the
file (and line) and never a traceback."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from callflow.store import Customer, CustomerPhone
from callflow.store.csv_import import import_customers, import_staff
from callflow.store.errors import CsvFormatError

ROWS = "phone,name,tier,region\n13800138000,李雷,vip,北京\n13700137000,韩梅梅,gold,上海\n"


def names(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.scalars(select(Customer.name).order_by(Customer.name)))


def phones(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.scalars(select(CustomerPhone.phone).order_by(CustomerPhone.phone)))


@pytest.mark.parametrize(
    ("codec", "label"),
    [("gbk", "GBK"), ("gb18030", "GBK"), ("cp936", "GBK")],
)
def test_gbk_is_named_with_how_to_convert(
    engine: Engine, tmp_path: Path, codec: str, label: str
) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(ROWS.encode(codec))
    with pytest.raises(CsvFormatError) as caught:
        import_customers(engine, path)
    message = str(caught.value)
    assert message.startswith("customers.csv:2: not UTF-8 text (byte 0xc0 at column 13)")
    assert f"it looks like {label}" in message
    assert "--encoding gbk" in message
    assert "iconv -f GBK -t UTF-8 customers.csv > customers-utf8.csv" in message
    assert names(engine) == []


def test_gb18030_only_characters_are_named_gb18030(engine: Engine, tmp_path: Path) -> None:
    # U+20000 (an extension-B ideograph) exists in GB18030 (4 bytes) but not in GBK.
    path = tmp_path / "customers.csv"
    path.write_bytes("phone,name\n13800138000,\U00020000先生\n".encode("gb18030"))
    with pytest.raises(CsvFormatError, match=r"looks like GB18030.*--encoding gb18030"):
        import_customers(engine, path)


@pytest.mark.parametrize("codec", ["gbk", "gb18030", "GB18030"])
def test_chinese_encodings_import_with_encoding(engine: Engine, tmp_path: Path, codec: str) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(ROWS.encode("gb18030" if codec.lower() == "gb18030" else codec))
    report = import_customers(engine, path, encoding=codec)
    assert (report.inserted, report.errors) == (2, [])
    assert names(engine) == sorted(["李雷", "韩梅梅"])


def test_wrong_explicit_encoding_names_line_and_byte(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(ROWS.encode("utf-8"))
    with pytest.raises(CsvFormatError, match=r"customers\.csv:2: not valid ascii text \(byte 0x"):
        import_customers(engine, path, encoding="ascii")


def test_unknown_encoding_name(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(ROWS, encoding="utf-8")
    with pytest.raises(CsvFormatError, match=r"customers\.csv: unknown encoding 'klingon'"):
        import_customers(engine, path, encoding="klingon")


@pytest.mark.parametrize(
    ("codec", "expected"),
    [
        (
            "utf-16",
            r"customers\.csv: the file is UTF-16 text, not UTF-8; import it with "
            r"--encoding utf-16.*iconv -f UTF-16 -t UTF-8",
        ),
        ("utf-16-le", r"contains NUL bytes: it looks like UTF-16LE text.*--encoding utf-16-le"),
        ("utf-16-be", r"contains NUL bytes: it looks like UTF-16BE text.*--encoding utf-16-be"),
        ("utf-32", r"the file is UTF-32 text.*--encoding utf-32"),
    ],
)
def test_utf16_and_utf32_are_named(
    engine: Engine, tmp_path: Path, codec: str, expected: str
) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(ROWS.encode(codec))
    with pytest.raises(CsvFormatError, match=expected):
        import_customers(engine, path)
    report = import_customers(engine, path, encoding=codec)
    assert (report.inserted, report.errors) == (2, [])


def test_utf8_with_bom_just_works(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(ROWS.encode("utf-8-sig"))
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    for encoding in (None, "utf-8", "UTF8"):
        report = import_customers(engine, path, encoding=encoding)
        assert report.errors == []
    assert names(engine) == sorted(["李雷", "韩梅梅"])


def test_latin1_is_not_mistaken_for_gbk(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes("phone,name\n13800138000,José,\n".encode("latin-1"))
    with pytest.raises(CsvFormatError) as caught:
        import_customers(engine, path)
    assert "looks like" not in str(caught.value)
    assert "customers.csv:2: not UTF-8 text" in str(caught.value)
    assert "--encoding" in str(caught.value)


def test_unterminated_quote_names_the_line_it_opened(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(
        'phone,name\n13800138000,A\n13700137000,"never closed\n13600136000,C\n', encoding="utf-8"
    )
    with pytest.raises(
        CsvFormatError,
        match=r"^customers\.csv:3: a quoted field starting on this line is never closed "
        r"\(the file ends at line 4\)$",
    ):
        import_customers(engine, path)
    assert names(engine) == []


def test_unterminated_quote_in_a_big_file_is_still_an_unterminated_quote(
    engine: Engine, tmp_path: Path
) -> None:
    # The quoted field outgrows csv's field limit long before the file ends.
    filler = "".join(f"1370{n:07d},Filler {n}\n" for n in range(20_000))
    path = tmp_path / "customers.csv"
    path.write_text(f'phone,name\n13800138000,"oops\n{filler}', encoding="utf-8")
    with pytest.raises(CsvFormatError, match=r"customers\.csv:2: a quoted field .* never closed"):
        import_customers(engine, path)
    assert names(engine) == []


def test_oversized_field_rejects_only_its_row(engine: Engine, tmp_path: Path) -> None:
    limit = csv.field_size_limit()
    big = "x" * (limit + 10)
    path = tmp_path / "customers.csv"
    path.write_text(
        "phone,name\n"
        "13800138001,First\n"  # 2
        f'13800138002,"{big}\n'  # 3: a quoted field over the limit, spanning lines 3-5
        "13900139000,Inside the quoted field\n"  # 4: must not be imported
        '"\n'  # 5
        "13800138003,Third\n"  # 6
        f"13800138004,{big}\n"  # 7: an unquoted field over the limit
        "13800138005,Fifth\n",  # 8
        encoding="utf-8",
    )
    report = import_customers(engine, path)
    reason = f"unreadable CSV record: a field is longer than {limit} characters"
    assert report.messages() == [f"customers.csv:3: {reason}", f"customers.csv:7: {reason}"]
    assert names(engine) == ["Fifth", "First", "Third"]
    assert "+8613900139000" not in phones(engine)


def test_text_after_a_closing_quote_rejects_only_its_row(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text('phone,name\n13800138001,"A"trailing\n13800138002,B\n', encoding="utf-8")
    report = import_customers(engine, path)
    assert report.messages() == ["customers.csv:2: unreadable CSV record: ',' expected after '\"'"]
    assert names(engine) == ["B"]


def test_missing_and_extra_fields_are_row_errors(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("phone,name\n13800138001,A,extra\n13800138002\n13800138003,C\n")
    report = import_customers(engine, path)
    assert report.messages() == [
        "customers.csv:2: has 3 fields, the header has 2",
        "customers.csv:3: has 1 fields, the header has 2",
    ]
    assert names(engine) == ["C"]


def test_missing_file_is_one_message(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(
        CsvFormatError, match=r"^gone\.csv: cannot read the file: No such file or directory$"
    ):
        import_customers(engine, tmp_path / "gone.csv")


def test_directory_is_one_message(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(CsvFormatError, match=r"cannot read the file: Is a directory"):
        import_staff(engine, tmp_path)


class _FailingFile:
    """A text file whose reads fail after *lines* lines, as when an NFS file vanishes."""

    def __init__(self, real: Any, lines: int) -> None:
        self._real, self._left = real, lines

    def __enter__(self) -> _FailingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._real.close()

    def __iter__(self) -> Iterator[str]:
        for text in self._real:
            if self._left == 0:
                raise OSError(116, "Stale file handle")
            self._left -= 1
            yield text


def test_file_failing_mid_run_is_one_message_and_writes_nothing(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(ROWS + "13600136000,Third,,\n", encoding="utf-8")
    real_open = Path.open

    def flaky_open(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = real_open(self, mode, *args, **kwargs)
        return handle if "b" in mode else _FailingFile(handle, 2)

    monkeypatch.setattr(Path, "open", flaky_open)
    with pytest.raises(CsvFormatError, match=r"^customers\.csv: cannot read the file: Stale"):
        import_customers(engine, path)
    monkeypatch.undo()
    assert names(engine) == []


def test_file_removed_after_start_is_read_to_the_end(engine: Engine, tmp_path: Path) -> None:
    # On POSIX an open file stays readable when removed: the import finishes normally.
    path = tmp_path / "customers.csv"
    path.write_text(ROWS, encoding="utf-8")
    real_open = Path.open

    def open_then_remove(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = real_open(self, mode, *args, **kwargs)
        if "b" not in mode:
            self.unlink()
        return handle

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Path, "open", open_then_remove)
        report = import_customers(engine, path)
    assert not path.exists()
    assert (report.inserted, report.errors) == (2, [])


def test_full_width_digits_are_normalised(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(
        "phone,name\n"
        "\uff11\uff13\uff18\uff10\uff10\uff11\uff13\uff18\uff10\uff10\uff10,Full\n"
        "\uff0b\uff18\uff16\u3000\uff11\uff13\uff17\uff0d\uff10\uff10\uff11\uff13"
        "\uff0d\uff17\uff10\uff10\uff10,Plus\n",
        encoding="utf-8",
    )
    report = import_customers(engine, path)
    assert report.errors == []
    assert phones(engine) == ["+8613700137000", "+8613800138000"]


@pytest.mark.parametrize(
    ("tier", "ok"),
    [
        ("vip", True),
        ("VIP", True),
        ("gold_plus", True),
        ("gold-plus", False),
        ("2nd", False),
        ("v i p", False),
        ("vip!", False),
        ("a" * 33, False),
    ],
)
def test_tiers_must_be_identifiers(engine: Engine, tmp_path: Path, tier: str, ok: bool) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(f"phone,name,tier\n13800138000,A,{tier}\n", encoding="utf-8")
    report = import_customers(engine, path)
    if ok:
        assert report.errors == []
    else:
        assert report.messages() == [
            f"customers.csv:2: tier {tier!r} must be an identifier: a letter, then up to 31 "
            "of a-z 0-9 _ (sites match tiers by name)"
        ]


@pytest.mark.parametrize(
    "region", ["Bei\njing", "Bei\rjing", "Bei\tjing", "Bei\x00jing", "\x1b[31m"]
)
def test_regions_with_control_characters_are_rejected(
    engine: Engine, tmp_path: Path, region: str
) -> None:
    path = tmp_path / "customers.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["phone", "name", "region"], ["13800138000", "A", region]])
    report = import_customers(engine, path)
    assert report.messages() == [
        f"customers.csv:2: region {region!r} contains a control character (newline, tab, NUL, ...)"
    ]
    assert names(engine) == []


def test_regions_keep_unicode_text(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("phone,name,region\n13800138000,A,广东 深圳\n", encoding="utf-8")
    assert import_customers(engine, path).errors == []
    with Session(engine) as session:
        assert session.scalar(select(Customer.region)) == "广东 深圳"


def test_blank_first_line_is_not_called_an_empty_file(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "staff.csv"
    path.write_text("\nid,name,device\nalice,Alice,PJSIP/1001\n", encoding="utf-8")
    with pytest.raises(CsvFormatError, match=r"^staff\.csv:1: blank first line; expected a head"):
        import_staff(engine, path)


def test_non_utf8_deep_in_a_utf8_file_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    good = "".join(f"1370{n:07d},Name {n}\n" for n in range(3000))
    path = tmp_path / "customers.csv"
    path.write_bytes(f"phone,name\n{good}".encode() + "13800138000,李雷\n".encode("gbk"))
    with pytest.raises(CsvFormatError, match=r"^customers\.csv:3002: not UTF-8 text .* GBK"):
        import_customers(engine, path)
    assert names(engine) == []
