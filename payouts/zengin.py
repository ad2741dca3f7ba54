"""Zengin 総合振込 (general transfer, type code 21) bank files (RULES.md, Zengin transfer file).

Pure and self-contained: no database, no models. A caller turns its payouts into `Payee`s, asks `validate` for every
problem (to show them all before anything is exported), then `build_files` and `package`:

    problems = validate(requester, payees)
    files = build_files(requester, transfer_date, payees)  # raises ZenginError with every problem
    filename, content_type, content = package(files, "zengin-2025-01-31")

Each file is a header record, at most `MAX_RECORDS` data records, a trailer and an end record: fixed 120-byte records
in Shift_JIS (cp932), each followed by CRLF. Text fields are upper-case half-width characters and half-width
katakana, left-aligned and space-filled; numeric fields are right-aligned and zero-filled. Nothing is ever truncated:
a value that does not fit is a problem.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import jaconv
from django.conf import settings
from django.utils.translation import gettext as _

ENCODING = "cp932"
RECORD_LENGTH = 120
CRLF = b"\r\n"
MAX_RECORDS = 9999  # data records per file
MAX_AMOUNT = 9_999_999_999  # N10, JPY per transfer
MAX_FILE_TOTAL = 999_999_999_999  # N12: the trailer's total; a batch is also split so that no file exceeds it

TYPE_CODE = "21"  # 総合振込
CODE_CLASS = "0"  # JIS / Shift_JIS
CLEARING_HOUSE = "0000"
NEW_CODE = "0"
TRANSFER_TYPE = "7"  # テレ振込 (telegraphic)
EDI_FLAG = " "  # 識別表示: blank, the customer codes are not EDI information

# Record layouts: (field, width in bytes). Each begins with its 1-byte record type.
HEADER_LAYOUT: tuple[tuple[str, int], ...] = (
    ("record_type", 1),
    ("type_code", 2),
    ("code_class", 1),
    ("requester_code", 10),
    ("requester_name", 40),
    ("transfer_date", 4),
    ("bank_code", 4),
    ("bank_name", 15),
    ("branch_code", 3),
    ("branch_name", 15),
    ("account_type", 1),
    ("account_number", 7),
    ("filler", 17),
)
DATA_LAYOUT: tuple[tuple[str, int], ...] = (
    ("record_type", 1),
    ("bank_code", 4),
    ("bank_name", 15),
    ("branch_code", 3),
    ("branch_name", 15),
    ("clearing_house", 4),
    ("account_type", 1),
    ("account_number", 7),
    ("payee_name", 30),
    ("amount", 10),
    ("new_code", 1),
    ("customer_code_1", 10),
    ("customer_code_2", 10),
    ("transfer_type", 1),
    ("edi_flag", 1),
    ("filler", 7),
)
TRAILER_LAYOUT: tuple[tuple[str, int], ...] = (
    ("record_type", 1),
    ("record_count", 6),
    ("total_amount", 12),
    ("filler", 101),
)
END_LAYOUT: tuple[tuple[str, int], ...] = (("record_type", 1), ("filler", 119))

for _layout in (HEADER_LAYOUT, DATA_LAYOUT, TRAILER_LAYOUT, END_LAYOUT):
    assert sum(width for _field, width in _layout) == RECORD_LENGTH, _layout
del _layout

# 預金種目. The keys are the values of licensing.choices.AccountType (a str enum, so its members match them too).
ACCOUNT_TYPE_CODES = {"ordinary": "1", "current": "2", "savings": "4"}

# The characters written in text fields. The commonly accepted Zengin (JIS X 0201) set:
#   digits 0-9, upper-case A-Z, half-width katakana ｦ-ﾝ with the voiced / semi-voiced marks ﾞ ﾟ and the long mark ｰ,
#   space, and the symbols ( ) . , - / ｢ ｣ and \ (byte 0x5C, which banks print as ¥).
# Not accepted: lower-case letters (upper-cased first), small kana ｧｨｩｪｫｬｭｮｯ (made large first), ｡ ､ ･ and any other
# symbol. `¥` and `￥` are written as byte 0x5C, the yen sign of JIS X 0201 (cp932 has no single-byte U+00A5).
ALLOWED_CHARS = frozenset(
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    + "".join(chr(code) for code in range(ord("ｦ"), ord("ﾟ") + 1) if chr(code) not in "ｧｨｩｪｫｬｭｮｯ")
    + " ().,-/｢｣\\"
)

# Before jaconv: full-width small and obsolete kana it leaves as they are, spacing voiced marks, yen signs.
_BEFORE_HALF_WIDTH = str.maketrans(
    {
        **dict(zip("ヮヵヶヰヱ", "ワカケイエ", strict=True)),
        "゛": "ﾞ",
        "゜": "ﾟ",
        "¥": "\\",
        "￥": "\\",
        "\u3000": " ",
    }
)
_SMALL_TO_LARGE = str.maketrans("ｧｨｩｪｫｬｭｮｯ", "ｱｲｳｴｵﾔﾕﾖﾂ")
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_SPACES = re.compile(r" {2,}")
_DIGITS = re.compile(r"[0-9]+")


class ZenginError(ValueError):
    """Everything that stops a Zengin file from being built: `problems` lists each one, readable as it is."""

    def __init__(self, problems: Iterable[str]):
        self.problems: list[str] = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class Requester:
    """The platform's own account, from which the transfers are made (振込依頼人)."""

    code: str  # 依頼人コード, 10 digits, assigned by the bank
    name: str  # kana
    bank_code: str
    bank_name: str
    branch_code: str
    branch_name: str
    account_type: str  # 'ordinary' | 'current' | 'savings', or its digit 1 | 2 | 4
    account_number: str


@dataclass(frozen=True)
class Payee:
    """One transfer. `label` names the payee in problems (e.g. the holder's name); it is not written to the file."""

    label: str
    bank_code: str
    bank_name: str
    branch_code: str
    branch_name: str
    account_type: str  # 'ordinary' | 'current' | 'savings', or its digit 1 | 2 | 4
    account_number: str
    name: str  # the account holder's name in kana; full-width or hiragana is converted
    amount: int  # JPY
    customer_code_1: str = ""
    customer_code_2: str = ""


REQUESTER_SETTING_KEYS = (
    "code",
    "name",
    "bank_code",
    "bank_name",
    "branch_code",
    "branch_name",
    "account_type",
    "account_number",
)


def requester_from_settings() -> Requester:
    """The requester from `settings.ZENGIN_REQUESTER`, a dict with the keys of `REQUESTER_SETTING_KEYS`.

    Raises ZenginError when the setting is missing or lacks a key; the values themselves are checked by `validate`."""
    config = getattr(settings, "ZENGIN_REQUESTER", None)
    if not config:
        raise ZenginError([_("The ZENGIN_REQUESTER setting (the platform's bank account for transfers) is missing.")])
    if not isinstance(config, dict):
        raise ZenginError([_("The ZENGIN_REQUESTER setting must be a dict.")])
    missing = [key for key in REQUESTER_SETTING_KEYS if key not in config or config[key] is None]
    if missing:
        raise ZenginError(
            [_("The ZENGIN_REQUESTER setting lacks: %(keys)s.") % {"keys": ", ".join(missing)}],
        )
    return Requester(**{key: str(config[key]) for key in REQUESTER_SETTING_KEYS})


# -- fields -------------------------------------------------------------------------------------------------------


def to_zengin_kana(value: str) -> str:
    """Text as a Zengin file writes it, not yet checked: hiragana → katakana, full-width → half-width, lower → upper
    case, small kana → large, the ideographic space → space; outer spaces stripped, inner runs of spaces made one."""
    text = unicodedata.normalize("NFC", value)  # a kana followed by a combining voiced mark → one character
    text = jaconv.hira2kata(text).translate(_BEFORE_HALF_WIDTH)
    text = jaconv.z2h(text, kana=True, ascii=True, digit=True)
    text = text.translate(_SMALL_TO_LARGE).translate(_ASCII_UPPER)
    return _SPACES.sub(" ", text.strip())


def _quote(chars: Iterable[str]) -> str:
    return ", ".join(f"“{char}”" if char.isprintable() else f"U+{ord(char):04X}" for char in chars)


def _text_problems(text: str, width: int, label: str, field: str) -> list[str]:
    problems = []
    bad = list(dict.fromkeys(char for char in text if char not in ALLOWED_CHARS))
    if bad:
        problems.append(
            _("%(label)s: the %(field)s contains characters a Zengin transfer cannot carry: %(chars)s.")
            % {"label": label, "field": field, "chars": _quote(bad)}
        )
    if len(text) > width:
        problems.append(
            _("%(label)s: the %(field)s is %(length)d half-width characters long (%(text)s); at most %(width)d fit.")
            % {"label": label, "field": field, "length": len(text), "text": text, "width": width}
        )
    return problems


def zengin_text(value: str, width: int, label: str, field: str, *, required: bool = False) -> str:
    """A C field: `value` converted by `to_zengin_kana`, checked against `ALLOWED_CHARS` and `width` (never
    truncated), left-aligned and space-filled to `width` characters, which are `width` bytes in cp932.

    Raises ZenginError naming `label` and `field` with every problem of the value."""
    text = to_zengin_kana(value or "")
    problems = _text_problems(text, width, label, field)
    if required and not text:
        problems.append(_("%(label)s: the %(field)s is required.") % {"label": label, "field": field})
    if problems:
        raise ZenginError(problems)
    padded = text.ljust(width)
    if len(padded.encode(ENCODING)) != width:  # every allowed character is one byte: a broken ALLOWED_CHARS
        raise ZenginError([_("%(label)s: the %(field)s cannot be encoded.") % {"label": label, "field": field}])
    return padded


def zengin_number(value: str | int, width: int, label: str, field: str, *, exact: bool = False) -> str:
    """An N field: ASCII digits only (full-width digits are converted), right-aligned and zero-filled to `width`;
    with `exact`, exactly `width` digits (bank and branch codes). Raises ZenginError when the value does not fit."""
    digits = jaconv.z2h(str(value if value is not None else ""), kana=False, ascii=False, digit=True).strip()
    if not _DIGITS.fullmatch(digits) or len(digits) > width or (exact and len(digits) != width):
        expected = _("%(width)d digits") % {"width": width} if exact else _("1 to %(width)d digits") % {"width": width}
        raise ZenginError(
            [
                _("%(label)s: the %(field)s must be %(expected)s, not “%(value)s”.")
                % {"label": label, "field": field, "expected": expected, "value": value if value is not None else ""}
            ]
        )
    return digits.zfill(width)


def account_type_code(value: str, label: str) -> str:
    """'ordinary' → 1, 'current' → 2, 'savings' → 4 (the digit itself is accepted too)."""
    key = str(value or "").strip().lower()
    if key in ACCOUNT_TYPE_CODES:
        return ACCOUNT_TYPE_CODES[key]
    if key in ACCOUNT_TYPE_CODES.values():
        return key
    raise ZenginError(
        [
            _("%(label)s: the account type must be ordinary, current or savings (1, 2 or 4), not “%(value)s”.")
            % {"label": label, "value": value}
        ]
    )


def _amount(value: object, label: str) -> str:
    if type(value) is not int or value <= 0:  # not bool, Decimal or float: amounts are whole yen
        raise ZenginError(
            [
                _("%(label)s: the amount must be a whole number of yen above zero, not “%(value)s”.")
                % {"label": label, "value": value}
            ]
        )
    if value > MAX_AMOUNT:
        raise ZenginError(
            [
                _("%(label)s: the amount %(amount)s JPY is over the most one transfer may carry, %(max)s JPY.")
                % {"label": label, "amount": f"{value:,}", "max": f"{MAX_AMOUNT:,}"}
            ]
        )
    return str(value).zfill(10)


class _Collector:
    """Runs field functions, keeping each result and every ZenginError's problems."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def __call__(self, function, *args, **kwargs) -> str:
        try:
            return function(*args, **kwargs)
        except ZenginError as error:
            self.problems.extend(error.problems)
            return ""


def _requester_fields(requester: Requester, collect: _Collector) -> dict[str, str]:
    label = _("Requester (ZENGIN_REQUESTER)")
    return {
        "requester_code": collect(zengin_number, requester.code, 10, label, _("requester code"), exact=True),
        "requester_name": collect(zengin_text, requester.name, 40, label, _("requester name"), required=True),
        "bank_code": collect(zengin_number, requester.bank_code, 4, label, _("bank code"), exact=True),
        "bank_name": collect(zengin_text, requester.bank_name, 15, label, _("bank name")),
        "branch_code": collect(zengin_number, requester.branch_code, 3, label, _("branch code"), exact=True),
        "branch_name": collect(zengin_text, requester.branch_name, 15, label, _("branch name")),
        "account_type": collect(account_type_code, requester.account_type, label),
        "account_number": collect(zengin_number, requester.account_number, 7, label, _("account number")),
    }


def _payee_fields(payee: Payee, collect: _Collector) -> dict[str, str]:
    label = payee.label
    return {
        "bank_code": collect(zengin_number, payee.bank_code, 4, label, _("bank code"), exact=True),
        "bank_name": collect(zengin_text, payee.bank_name, 15, label, _("bank name")),
        "branch_code": collect(zengin_number, payee.branch_code, 3, label, _("branch code"), exact=True),
        "branch_name": collect(zengin_text, payee.branch_name, 15, label, _("branch name")),
        "account_type": collect(account_type_code, payee.account_type, label),
        "account_number": collect(zengin_number, payee.account_number, 7, label, _("account number")),
        "payee_name": collect(zengin_text, payee.name, 30, label, _("account holder name"), required=True),
        "amount": collect(_amount, payee.amount, label),
        "customer_code_1": collect(zengin_number, payee.customer_code_1 or "0", 10, label, _("customer code 1")),
        "customer_code_2": collect(zengin_number, payee.customer_code_2 or "0", 10, label, _("customer code 2")),
    }


def _prepare(requester: Requester, payees: Sequence[Payee]) -> tuple[dict[str, str], list[dict[str, str]], list[str]]:
    collect = _Collector()
    header = _requester_fields(requester, collect)
    rows = [_payee_fields(payee, collect) for payee in payees]
    return header, rows, collect.problems


def validate(requester: Requester, payees: Sequence[Payee]) -> list[str]:
    """Every problem that would stop `build_files`, each naming the payee's label and the field; [] when fine."""
    return _prepare(requester, payees)[2]


# -- records and files --------------------------------------------------------------------------------------------


def _internal_error(detail: str) -> str:
    return _("Internal error: the Zengin file built is inconsistent (%(detail)s).") % {"detail": detail}


def _record(layout: tuple[tuple[str, int], ...], values: dict[str, str]) -> bytes:
    parts = []
    for field, width in layout:
        encoded = values.get(field, " " * width).encode(ENCODING)
        if len(encoded) != width:
            raise ZenginError([_internal_error(f"{field} is {len(encoded)} bytes, not {width}")])
        parts.append(encoded)
    record = b"".join(parts)
    if len(record) != RECORD_LENGTH:  # cannot happen while the layouts sum to 120 (checked at import)
        raise ZenginError([_internal_error(f"a record is {len(record)} bytes")])
    return record + CRLF


def _batches(rows: list[dict[str, str]]) -> list[list[dict[str, str]]]:
    """Consecutive runs of at most MAX_RECORDS rows whose total fits the trailer's N12."""
    batches: list[list[dict[str, str]]] = []
    current: list[dict[str, str]] = []
    total = 0
    for row in rows:
        amount = int(row["amount"])
        if current and (len(current) == MAX_RECORDS or total + amount > MAX_FILE_TOTAL):
            batches.append(current)
            current, total = [], 0
        current.append(row)
        total += amount
    if current:
        batches.append(current)
    return batches


def _span(layout: tuple[tuple[str, int], ...], name: str) -> slice:
    start = 0
    for field, width in layout:
        if field == name:
            return slice(start, start + width)
        start += width
    raise KeyError(name)


def _check_file(content: bytes, expected_count: int, expected_total: int) -> None:
    """Reads a built file back: record lengths, order, and a trailer agreeing with its data records."""
    lines = content.split(CRLF)
    if lines[-1] != b"" or any(len(line) != RECORD_LENGTH for line in lines[:-1]):
        raise ZenginError([_internal_error("a record is not 120 bytes followed by CRLF")])
    records = lines[:-1]
    data = [line for line in records if line[:1] == b"2"]
    trailer, end = records[-2], records[-1]
    count, total = (
        int(trailer[_span(TRAILER_LAYOUT, "record_count")]),
        int(trailer[_span(TRAILER_LAYOUT, "total_amount")]),
    )
    written = sum(int(line[_span(DATA_LAYOUT, "amount")]) for line in data)
    if (
        records[0][:1] != b"1"
        or trailer[:1] != b"8"
        or end[:1] != b"9"
        or len(data) != len(records) - 3
        or count != len(data)
        or total != written
        or count != expected_count
        or total != expected_total
    ):
        raise ZenginError(
            [
                _internal_error(
                    f"the trailer says {count} records and {total} JPY; {len(data)} records and {written} JPY were"
                    f" written, {expected_count} and {expected_total} JPY expected"
                )
            ]
        )


def build_files(requester: Requester, transfer_date: dt.date, payees: Sequence[Payee]) -> list[bytes]:
    """The Zengin files of a batch: one per run of at most MAX_RECORDS transfers (and at most MAX_FILE_TOTAL yen).

    Raises ZenginError with every problem (see `validate`) before building anything."""
    header_fields, rows, problems = _prepare(requester, payees)
    if not isinstance(transfer_date, dt.date):
        problems.insert(0, _("The transfer date must be a date."))
    if not payees:
        problems.insert(0, _("There is nothing to transfer."))
    if problems:
        raise ZenginError(problems)

    header = _record(
        HEADER_LAYOUT,
        {
            **header_fields,
            "record_type": "1",
            "type_code": TYPE_CODE,
            "code_class": CODE_CLASS,
            "transfer_date": transfer_date.strftime("%m%d"),
        },
    )
    end = _record(END_LAYOUT, {"record_type": "9"})
    files = []
    for batch in _batches(rows):
        total = sum(int(row["amount"]) for row in batch)
        records = [header]
        for row in batch:
            records.append(
                _record(
                    DATA_LAYOUT,
                    {
                        **row,
                        "record_type": "2",
                        "clearing_house": CLEARING_HOUSE,
                        "new_code": NEW_CODE,
                        "transfer_type": TRANSFER_TYPE,
                        "edi_flag": EDI_FLAG,
                    },
                )
            )
        records.append(
            _record(
                TRAILER_LAYOUT,
                {"record_type": "8", "record_count": str(len(batch)).zfill(6), "total_amount": str(total).zfill(12)},
            )
        )
        records.append(end)
        content = b"".join(records)
        _check_file(content, len(batch), total)
        files.append(content)
    return files


def package(files: list[bytes], stem: str) -> tuple[str, str, bytes]:
    """(filename, content type, content) to download: one file as `{stem}.txt`; several as `{stem}.zip` holding
    `{stem}-01.txt`, `{stem}-02.txt`, … (deterministic: the same files give the same bytes)."""
    if not files:
        raise ValueError("package() needs at least one file")
    if len(files) == 1:
        return f"{stem}.txt", "text/plain; charset=Shift_JIS", files[0]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for number, content in enumerate(files, start=1):
            info = zipfile.ZipInfo(f"{stem}-{number:02d}.txt", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, content)
    return f"{stem}.zip", "application/zip", buffer.getvalue()
