"""Bulk import of customers and staff from CSV files exported by a CRM or a spreadsheet.

Every row is validated; bad rows are reported with their line number and skipped, good
rows are written in one transaction (with ``strict=True``: nothing if any row is bad).
Importing the same file twice changes nothing::

    report = import_customers(engine, "customers.csv", default_region="CN")
    print(report)            # customers.csv: 990 inserted, 0 updated, 0 unchanged, 10 errors
    for message in report.messages(): print(message)   # customers.csv:17: phone '12ab' ...

Cell contents are data and are stored verbatim, including quotes, ``${...}`` and newlines;
escaping them is the job of whatever renders them (dialplan, HTML, shell).
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, bindparam, delete, func, insert, select, text, update
from sqlalchemy.orm import Session, selectinload

from callflow.store.base import Base, utcnow
from callflow.store.customers import Customer, CustomerPhone, CustomerTag
from callflow.store.errors import CsvFormatError, InvalidValue
from callflow.store.health import database_errors, require_database_file
from callflow.store.inputs import Change, CustomerData, customer_data, staff_data
from callflow.store.migrate import require_schema
from callflow.store.repositories import customer_columns
from callflow.store.staff import Staff

CUSTOMER_COLUMNS = (
    "phone",
    "name",
    "tier",
    "value",
    "manager",
    "region",
    "language",
    "timezone",
    "tags",
)
STAFF_COLUMNS = ("id", "name", "device", "groups")
BATCH = 1000  # rows per executemany
IN_CHUNK = 500  # ids per IN (...) list; well under SQLite's variable limit

# Column in the CSV -> attribute on Customer, for the optional columns.
_OPTIONAL_FIELDS = {
    "tier": "tier",
    "value": "value",
    "manager": "account_manager_id",
    "region": "region",
    "language": "language",
    "timezone": "timezone",
}


@dataclass(frozen=True, slots=True)
class RowError:
    """One rejected row: its line in the file (1 is the header) and why."""

    line: int
    reason: str


@dataclass
class ImportReport:
    """What an import did; `messages()` gives ``file:line: reason`` for each bad row."""

    path: str
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def imported(self) -> int:
        """Rows that were valid (inserted, updated or unchanged)."""
        return self.inserted + self.updated + self.unchanged

    def messages(self) -> list[str]:
        """Each row error as ``customers.csv:17: reason``, ready to print."""
        name = Path(self.path).name
        return [f"{name}:{e.line}: {e.reason}" for e in self.errors]

    def count(self, change: Change) -> None:
        """Add one row to the counter for *change*."""
        setattr(self, change.value, getattr(self, change.value) + 1)

    def __str__(self) -> str:
        return (
            f"{Path(self.path).name}: {self.inserted} inserted, {self.updated} updated, "
            f"{self.unchanged} unchanged, {len(self.errors)} errors"
        )


_SNIFF_BYTES = 4096
# Legacy encodings a Chinese CRM or Excel on Chinese Windows writes, tried in this order
# when a file is not UTF-8: GBK (a superset of GB2312), then GB18030 (a superset of GBK).
_CHINESE = (("gbk", "GBK"), ("gb18030", "GB18030"))
_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32", "utf-32"),
    (codecs.BOM_UTF32_BE, "UTF-32", "utf-32"),
    (codecs.BOM_UTF16_LE, "UTF-16", "utf-16"),
    (codecs.BOM_UTF16_BE, "UTF-16", "utf-16"),
)


def _convert_hint(name: str, label: str, codec: str) -> str:
    stem = name.rsplit(".", 1)[0]
    return (
        f"import it with --encoding {codec}, or convert it to UTF-8 first "
        f"(iconv -f {label} -t UTF-8 {name} > {stem}-utf8.csv; in Excel: Save As "
        "'CSV UTF-8')"
    )


def _encoding(path: Path, encoding: str | None) -> str:
    """The codec to read *path* with: *encoding* if given, else UTF-8 (BOM or not).

    Files that are evidently UTF-16/32 are refused with a message saying which and how
    to convert; GBK and GB18030 are diagnosed when decoding fails (see `_not_decodable`).
    """
    if encoding:
        try:
            codec = codecs.lookup(encoding).name
        except LookupError:
            raise CsvFormatError(f"{path.name}: unknown encoding {encoding!r}") from None
        return "utf-8-sig" if codec == "utf-8" else codec
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    for bom, label, codec in _BOMS:
        if head.startswith(bom):
            raise CsvFormatError(
                f"{path.name}: the file is {label} text, not UTF-8; "
                + _convert_hint(path.name, label, codec)
            )
    odd, even = head[1::2].count(0), head[0::2].count(0)
    if max(odd, even) > len(head) // 8:
        # Mostly-ASCII text in UTF-16 without a BOM: every other byte is NUL. (A stray
        # NUL in UTF-8 text is left to the CSV reader, which rejects that row.)
        order = "LE" if odd > even else "BE"
        codec = f"utf-16-{order.lower()}"
        raise CsvFormatError(
            f"{path.name}: the file contains NUL bytes: it looks like UTF-16{order} text, "
            "not UTF-8; " + _convert_hint(path.name, f"UTF-16{order}", codec)
        )
    return "utf-8-sig"


def _not_decodable(path: Path, codec: str) -> CsvFormatError:
    """Explain why *path* does not decode as *codec*: where, and what it looks like."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return CsvFormatError(f"{path.name}: cannot read the file: {exc.strerror or exc}")
    decoder = codecs.getincrementaldecoder(codec)()
    line, detail = 1, "undecodable bytes"
    for number, raw in enumerate(data.splitlines(keepends=True), start=1):
        try:
            decoder.decode(raw)
        except UnicodeDecodeError as exc:
            line, detail = number, f"byte 0x{raw[exc.start]:02x} at column {exc.start + 1}"
            break
    if codec != "utf-8-sig":
        return CsvFormatError(f"{path.name}:{line}: not valid {codec} text ({detail})")
    for candidate, label in _CHINESE:
        try:
            data.decode(candidate)
        except UnicodeDecodeError:
            continue
        return CsvFormatError(
            f"{path.name}:{line}: not UTF-8 text ({detail}); it looks like {label}, as "
            f"Excel on Chinese Windows saves CSV: {_convert_hint(path.name, label, candidate)}"
        )
    return CsvFormatError(
        f"{path.name}:{line}: not UTF-8 text ({detail}); save the file as UTF-8, or name "
        "its encoding with --encoding"
    )


class _Lines:
    """The physical lines of a file for `csv.reader`, counted, with the number of quote
    characters read since `mark()` (to find where a record the reader rejected ends)."""

    __slots__ = ("_handle", "line", "quotes")

    def __init__(self, handle: Iterator[str]) -> None:
        self._handle = iter(handle)
        self.line = 0
        self.quotes = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        text = next(self._handle)
        self.line += 1
        self.quotes += text.count('"')
        return text

    def mark(self) -> None:
        self.quotes = 0

    def skip_rest_of_record(self) -> bool:
        """Read on to the end of the record the reader gave up on; False at end of file
        inside a quoted field. With doubled quotes as the only escape, a record ends
        at the first line end where it has read an even number of quote characters."""
        while self.quotes % 2:
            if next(self, None) is None:
                return False
        return True


def _records(path: Path, lines: _Lines) -> Iterator[tuple[int, list[str] | str]]:
    """(first line, cells) for every record, or (line, reason) for one csv rejects.

    A record the csv module rejects (a field over its size limit, text after a closing
    quote) costs that record only; a quote that is never closed ends the file.
    """
    reader = csv.reader(lines, strict=True)
    while True:
        start = lines.line + 1
        lines.mark()
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if not lines.skip_rest_of_record() or "unexpected end of data" in str(exc):
                raise CsvFormatError(
                    f"{path.name}:{start}: a quoted field starting on this line is never "
                    f"closed (the file ends at line {lines.line})"
                ) from None
            reason = str(exc)
            if "field limit" in reason:
                reason = f"a field is longer than {csv.field_size_limit()} characters"
            yield start, f"unreadable CSV record: {reason}"
            continue
        yield start, cells


def _rows(
    path: Path, columns: Sequence[str], required: set[str], encoding: str | None = None
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (first line of the record, {column: cell}) for every non-blank record.

    A row that cannot be used whole comes as ``{"": reason}``; a file that cannot be
    read at all raises `CsvFormatError` naming the file (and line).
    """
    name = path.name
    codec = "utf-8-sig"
    try:
        codec = _encoding(path, encoding)
        with path.open(encoding=codec, newline="") as handle:
            records = _records(path, _Lines(handle))
            header_line, first = next(records, (1, []))
            if isinstance(first, str):
                raise CsvFormatError(f"{name}:{header_line}: header row: {first}")
            header = [h.strip().lower() for h in first]
            if not header:
                what = "blank first line" if path.stat().st_size else "empty file"
                raise CsvFormatError(
                    f"{name}:1: {what}; expected a header row: {', '.join(columns)}"
                )
            unknown = [h for h in header if h not in columns]
            missing = sorted(required - set(header))
            duplicated = sorted({h for h in header if header.count(h) > 1})
            if unknown or missing or duplicated:
                problems = [f"unknown column {h!r}" for h in unknown]
                problems += [f"missing column {h!r}" for h in missing]
                problems += [f"column {h!r} appears twice" for h in duplicated]
                raise CsvFormatError(
                    f"{name}:1: {'; '.join(problems)} (expected columns: {', '.join(columns)})"
                )
            width = len(header)
            for line, cells in records:
                if isinstance(cells, str):
                    yield line, {"": cells}
                elif not cells:
                    continue
                elif len(cells) != width:
                    yield line, {"": f"has {len(cells)} fields, the header has {width}"}
                else:
                    yield line, dict(zip(header, cells, strict=True))
    except UnicodeDecodeError:
        raise _not_decodable(path, codec) from None
    except OSError as exc:
        raise CsvFormatError(f"{name}: cannot read the file: {exc.strerror or exc}") from exc


def _split(cell: str) -> list[str]:
    return [part for part in cell.split(";") if part.strip()]


@dataclass(slots=True)
class _Row:
    line: int
    data: CustomerData
    fields: dict[str, Any]  # Customer attributes this row sets (present columns only)


def _run(target: Session | Engine, work: Any) -> ImportReport:
    # Refuse a database this callflow did not migrate (never upgraded, or upgraded by a
    # newer version) before reading the file, let alone writing.
    if isinstance(target, Session):
        require_schema(target.connection())
        report: ImportReport = work(target)
        target.flush()
        return report
    require_database_file(target.url)
    with database_errors(target), Session(target) as session, session.begin():
        require_schema(session.connection())
        report = work(session)
    return report


def import_customers(
    target: Session | Engine,
    path: str | Path,
    default_region: str = "CN",
    *,
    strict: bool = False,
    encoding: str | None = None,
) -> ImportReport:
    """Import customers from the CSV file *path*; returns an `ImportReport`.

    Columns (header row required, any order, UTF-8):
      phone     one or more numbers separated by ';' (national numbers read for
                *default_region*); required. Customers are identified by their numbers.
      name      required, stored verbatim.
      tier      e.g. vip, gold, silver, standard (default standard).
      value     value score, 0 to 9999999999.99 (default 0).
      manager   staff id of the account manager (import staff first).
      region, language (BCP 47, e.g. zh-CN), timezone (IANA, e.g. Asia/Shanghai).
      tags      ';'-separated; replaces the customer's tags.
    Only phone and name are required; a column left out of the file leaves that field
    of existing customers untouched. Phones are only ever added, never removed.

    With an Engine the import commits; with a Session it joins the caller's transaction
    (the caller commits or rolls back). *strict*: import nothing if any row is bad.
    *encoding*: the file's text encoding (e.g. ``gbk``); by default UTF-8, with or
    without a BOM. A file that cannot be read at all (wrong encoding, bad header, a
    quote never closed, unreadable) raises `CsvFormatError`; a database that cannot be
    used raises `DatabaseError` (with an Engine) before anything is written.

        report = import_customers(engine, "customers.csv")
        assert not report.errors, "\\n".join(report.messages())
    """
    source = Path(path)
    return _run(target, lambda s: _import_customers(s, source, default_region, strict, encoding))


def _import_customers(
    session: Session, path: Path, region: str, strict: bool, encoding: str | None
) -> ImportReport:
    report = ImportReport(str(path))
    staff_ids = set(session.scalars(select(Staff.id)))
    phones = session.execute(select(CustomerPhone.phone, CustomerPhone.customer_id))
    owner_of = {phone: customer_id for phone, customer_id in phones}
    phone_line: dict[str, int] = {}  # phones claimed by earlier rows of this file
    customer_line: dict[int, int] = {}  # existing customers claimed by earlier rows
    new_rows: list[_Row] = []
    existing_rows: dict[int, _Row] = {}
    present: set[str] | None = None

    for line, cells in _rows(path, CUSTOMER_COLUMNS, {"phone", "name"}, encoding):
        if "" in cells:
            report.errors.append(RowError(line, cells[""]))
            continue
        if present is None:
            present = set(cells)
        try:
            data = customer_data(
                name=cells["name"],
                phones=_split(cells["phone"]),
                tier=cells.get("tier"),
                value=cells.get("value"),
                manager=cells.get("manager"),
                region=cells.get("region"),
                language=cells.get("language"),
                timezone=cells.get("timezone"),
                tags=_split(cells.get("tags", "")),
                default_region=region,
            )
        except InvalidValue as exc:
            report.errors.append(RowError(line, str(exc)))
            continue
        reason = _conflict(data, staff_ids, owner_of, phone_line, customer_line)
        if reason:
            report.errors.append(RowError(line, reason))
            continue
        columns = customer_columns(data)
        fields = {"name": data.name} | {
            attr: columns[attr] for col, attr in _OPTIONAL_FIELDS.items() if col in present
        }
        row = _Row(line, data, fields)
        phone_line.update(dict.fromkeys(data.phones, line))
        owners = {owner_of[p] for p in data.phones if p in owner_of}
        if owners:
            customer_id = owners.pop()
            customer_line[customer_id] = line
            existing_rows[customer_id] = row
        else:
            new_rows.append(row)

    if strict and report.errors:
        return report
    _insert_new(session, new_rows, "tags" in (present or ()), report)
    _update_existing(session, existing_rows, owner_of, "tags" in (present or ()), report)
    return report


def _conflict(
    data: CustomerData,
    staff_ids: set[str],
    owner_of: dict[str, int],
    phone_line: dict[str, int],
    customer_line: dict[int, int],
) -> str | None:
    """Why *data* cannot be imported next to the database and the earlier rows, or None."""
    if data.manager_id is not None and data.manager_id not in staff_ids:
        return f"manager {data.manager_id!r} is not a known staff id (import staff first)"
    for phone in data.phones:
        if phone in phone_line:
            return f"phone {phone} is already on line {phone_line[phone]}"
    owners = sorted({owner_of[p] for p in data.phones if p in owner_of})
    if len(owners) > 1:
        ids = ", ".join(f"#{i}" for i in owners)
        return f"phones {';'.join(data.phones)} belong to different customers ({ids})"
    if owners and owners[0] in customer_line:
        return f"customer #{owners[0]} is already updated by line {customer_line[owners[0]]}"
    return None


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _executemany(session: Session, statement: Any, rows: Iterable[dict[str, Any]]) -> None:
    for batch in _batches(list(rows), BATCH):
        session.execute(statement, batch)


def _allocate_ids(session: Session, count: int) -> Sequence[int]:
    """*count* fresh customer ids, so that phones and tags can be inserted in bulk too.

    (INSERT ... RETURNING would do, but on SQLite SQLAlchemy has to send it row by row to
    keep the order of the ids.) PostgreSQL: drawn from the id sequence, safe under
    concurrency. SQLite: max(id) onward; a concurrent writer makes this transaction fail
    (busy snapshot or duplicate key) and roll back, never mix rows up.
    """
    if session.get_bind().dialect.name == "postgresql":
        draw = text(
            "SELECT nextval(pg_get_serial_sequence('customers', 'id')) FROM generate_series(1, :n)"
        )
        return list(session.scalars(draw, {"n": count}))
    highest = session.scalar(select(func.max(Customer.id))) or 0
    return range(highest + 1, highest + 1 + count)


def _insert_new(session: Session, rows: list[_Row], with_tags: bool, report: ImportReport) -> None:
    now = utcnow()
    defaults = {"tier": "standard", "value": Decimal("0.00")}
    for batch in _batches(rows, BATCH):
        ids = _allocate_ids(session, len(batch))
        session.execute(
            insert(Customer),
            [
                defaults | r.fields | {"id": i, "created_at": now, "updated_at": now}
                for r, i in zip(batch, ids, strict=True)
            ],
        )
        phones = [
            {"phone": p, "customer_id": i}
            for r, i in zip(batch, ids, strict=True)
            for p in r.data.phones
        ]
        session.execute(insert(CustomerPhone), phones)
        if with_tags:
            tags = [
                {"customer_id": i, "tag": t}
                for r, i in zip(batch, ids, strict=True)
                for t in sorted(r.data.tags)
            ]
            if tags:
                session.execute(insert(CustomerTag), tags)
    report.inserted += len(rows)


def _update_existing(
    session: Session,
    rows: dict[int, _Row],
    owner_of: dict[str, int],
    with_tags: bool,
    report: ImportReport,
) -> None:
    now = utcnow()
    changes: list[dict[str, Any]] = []
    added_phones: list[dict[str, Any]] = []
    added_tags: list[dict[str, Any]] = []
    removed_tags: list[tuple[int, str]] = []
    ids = sorted(rows)
    attributes = sorted({k for row in rows.values() for k in row.fields})
    columns = [getattr(Customer, k) for k in attributes]
    for chunk in _batches(ids, IN_CHUNK):
        # Plain column tuples, not ORM objects: nothing lands in the caller's session.
        tags: dict[int, set[str]] = {i: set() for i in chunk}
        if with_tags:
            tag_rows = select(CustomerTag.customer_id, CustomerTag.tag)
            for customer_id, tag in session.execute(
                tag_rows.where(CustomerTag.customer_id.in_(chunk))
            ):
                tags[customer_id].add(tag)
        current = session.execute(select(Customer.id, *columns).where(Customer.id.in_(chunk)))
        for customer_id, *values in current:
            row = rows[customer_id]
            stored = dict(zip(attributes, values, strict=True))
            changed = any(stored[k] != v for k, v in row.fields.items())
            new_phones = [p for p in row.data.phones if p not in owner_of]
            added_phones += [{"phone": p, "customer_id": customer_id} for p in new_phones]
            have = tags[customer_id]
            if with_tags and have != row.data.tags:
                added_tags += [
                    {"customer_id": customer_id, "tag": t} for t in sorted(row.data.tags - have)
                ]
                removed_tags += [(customer_id, t) for t in sorted(have - row.data.tags)]
                changed = True
            if changed or new_phones:
                changes.append({"id": customer_id} | row.fields | {"updated_at": now})
                report.updated += 1
            else:
                report.unchanged += 1
    _executemany(session, update(Customer), changes)
    _executemany(session, insert(CustomerPhone), added_phones)
    _executemany(session, insert(CustomerTag), added_tags)
    tag_table = Base.metadata.tables["customer_tags"]
    by_pair = delete(tag_table).where(
        tag_table.c.customer_id == bindparam("cid"), tag_table.c.tag == bindparam("old_tag")
    )
    _executemany(session, by_pair, ({"cid": c, "old_tag": t} for c, t in removed_tags))


def import_staff(
    target: Session | Engine,
    path: str | Path,
    *,
    strict: bool = False,
    encoding: str | None = None,
) -> ImportReport:
    """Import staff from the CSV file *path*; returns an `ImportReport`.

    Columns (header row required, UTF-8):
      id      short identifier, [a-z][a-z0-9_]{0,31}, e.g. alice; required.
      name    required, stored verbatim.
      device  TECH/resource, e.g. PJSIP/1001; required.
      groups  ';'-separated group names (sales;service); replaces the member's groups.
    Transactions, *strict*, *encoding* and errors work as in `import_customers`.

        report = import_staff(engine, "staff.csv")
        print(report)       # staff.csv: 12 inserted, 0 updated, 0 unchanged, 0 errors
    """
    source = Path(path)
    return _run(target, lambda s: _import_staff(s, source, strict, encoding))


def _import_staff(session: Session, path: Path, strict: bool, encoding: str | None) -> ImportReport:
    report = ImportReport(str(path))
    existing = {s.id: s for s in session.scalars(select(Staff).options(selectinload(Staff.groups)))}
    seen: dict[str, int] = {}
    pending = []
    for line, cells in _rows(path, STAFF_COLUMNS, {"id", "name", "device"}, encoding):
        if "" in cells:
            report.errors.append(RowError(line, cells[""]))
            continue
        try:
            data = staff_data(
                id=cells["id"],
                name=cells["name"],
                device=cells["device"],
                groups=_split(cells.get("groups", "")),
            )
        except InvalidValue as exc:
            report.errors.append(RowError(line, str(exc)))
            continue
        if data.id in seen:
            report.errors.append(
                RowError(line, f"staff id {data.id!r} is already on line {seen[data.id]}")
            )
            continue
        seen[data.id] = line
        pending.append((data, "groups" in cells))
    if strict and report.errors:
        return report
    for data, with_groups in pending:
        staff = existing.get(data.id)
        if staff is None:
            staff = Staff(id=data.id, name=data.name, device=data.device)
            staff.group_names = data.groups
            session.add(staff)
            report.count(Change.INSERTED)
            continue
        changed = (staff.name, staff.device) != (data.name, data.device)
        staff.name, staff.device = data.name, data.device
        if with_groups and staff.group_names != data.groups:
            staff.group_names = data.groups
            changed = True
        if changed:
            staff.updated_at = utcnow()
        report.count(Change.UPDATED if changed else Change.UNCHANGED)
    session.flush()
    return report


def csv_rows(
    path: Path, columns: Sequence[str], required: set[str], encoding: str | None = None
) -> Iterator[tuple[int, dict[str, str]]]:
    """The rows of a CSV file read with the same rules and ``file:line`` errors as the
    customer import (header, encodings, quoting); for other importers such as call lists
    and the do-not-call list. A row that cannot be used whole comes as ``{"": reason}``.

        for line, cells in csv_rows(Path("list.csv"), ("phone", "name"), {"phone"}): ...
    """
    return _rows(path, columns, required, encoding)
