"""Zengin 総合振込 files (RULES.md, Zengin transfer file), read back by an independent reader.

The reader below slices each record by the byte offsets of the spec, written out by hand here: it shares nothing with
the module's layout constants, so a layout mistake in the module shows up as a mismatch."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from django.utils import translation

from licensing.choices import ZENGIN_ACCOUNT_TYPE, AccountType
from payouts import zengin
from payouts.zengin import (
    MAX_RECORDS,
    Payee,
    Requester,
    ZenginError,
    build_files,
    package,
    requester_from_settings,
    to_zengin_kana,
    validate,
    zengin_number,
    zengin_text,
)

DATE = dt.date(2026, 3, 5)

# (field, start, end) byte offsets of each record, from RULES.md's widths.
HEADER = [
    ("record_type", 0, 1),
    ("type_code", 1, 3),
    ("code_class", 3, 4),
    ("requester_code", 4, 14),
    ("requester_name", 14, 54),
    ("date", 54, 58),
    ("bank_code", 58, 62),
    ("bank_name", 62, 77),
    ("branch_code", 77, 80),
    ("branch_name", 80, 95),
    ("account_type", 95, 96),
    ("account_number", 96, 103),
    ("filler", 103, 120),
]
DATA = [
    ("record_type", 0, 1),
    ("bank_code", 1, 5),
    ("bank_name", 5, 20),
    ("branch_code", 20, 23),
    ("branch_name", 23, 38),
    ("clearing_house", 38, 42),
    ("account_type", 42, 43),
    ("account_number", 43, 50),
    ("name", 50, 80),
    ("amount", 80, 90),
    ("new_code", 90, 91),
    ("customer_code_1", 91, 101),
    ("customer_code_2", 101, 111),
    ("transfer_type", 111, 112),
    ("edi_flag", 112, 113),
    ("filler", 113, 120),
]
TRAILER = [("record_type", 0, 1), ("count", 1, 7), ("total", 7, 19), ("filler", 19, 120)]
END = [("record_type", 0, 1), ("filler", 1, 120)]


def parse_record(line: bytes, layout) -> dict[str, str]:
    assert [(start, end) for _name, start, end in layout][-1][1] == 120
    fields = {name: line[start:end].decode("cp932") for name, start, end in layout}
    fields["_raw"] = line  # type: ignore[assignment]
    return fields


def read_file(content: bytes) -> dict:
    """The records of one Zengin file, checking its framing: 120-byte records, each followed by CRLF."""
    assert content.endswith(b"\r\n")
    lines = content.split(b"\r\n")
    assert lines[-1] == b""
    lines = lines[:-1]
    for line in lines:
        assert len(line) == 120, (len(line), line)
        assert b"\r" not in line
        assert b"\n" not in line
    kinds = b"".join(line[:1] for line in lines)
    assert kinds[:1] == b"1", kinds
    assert kinds[-2:] == b"89", kinds
    assert set(kinds[1:-2]) <= {ord("2")}, kinds
    return {
        "header": parse_record(lines[0], HEADER),
        "data": [parse_record(line, DATA) for line in lines[1:-2]],
        "trailer": parse_record(lines[-2], TRAILER),
        "end": parse_record(lines[-1], END),
    }


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def requester(**changes) -> Requester:
    values = {
        "code": "1234567890",
        "name": "カ）ライツレジャー",
        "bank_code": "0001",
        "bank_name": "ミズホ",
        "branch_code": "100",
        "branch_name": "トウキヨウ",
        "account_type": "current",
        "account_number": "7654321",
    }
    return Requester(**{**values, **changes})


def payee(number: int = 1, **changes) -> Payee:
    values = {
        "label": f"Holder {number}",
        "bank_code": "0005",
        "bank_name": "ミツビシユーエフジエイ",
        "branch_code": "001",
        "branch_name": "ホンテン",
        "account_type": "ordinary",
        "account_number": f"{number:07d}",
        "name": "ヤマダ タロウ",
        "amount": 1000 + number,
    }
    return Payee(**{**values, **changes})


# -- the layout -----------------------------------------------------------------------------------------------------


def test_the_module_layouts_are_120_bytes():
    for layout in (zengin.HEADER_LAYOUT, zengin.DATA_LAYOUT, zengin.TRAILER_LAYOUT, zengin.END_LAYOUT):
        assert sum(width for _name, width in layout) == 120


def test_header_fields():
    [content] = build_files(requester(), DATE, [payee()])
    header = read_file(content)["header"]
    assert header["record_type"] == "1"
    assert header["type_code"] == "21"
    assert header["code_class"] == "0"
    assert header["requester_code"] == "1234567890"
    assert header["requester_name"] == "ｶ)ﾗｲﾂﾚｼﾞﾔｰ".ljust(40)  # （ → (, small ャ → ﾔ, ー → ｰ
    assert header["date"] == "0305"
    assert header["bank_code"] == "0001"
    assert header["bank_name"] == "ﾐｽﾞﾎ".ljust(15)
    assert header["branch_code"] == "100"
    assert header["branch_name"] == "ﾄｳｷﾖｳ".ljust(15)
    assert header["account_type"] == "2"  # current
    assert header["account_number"] == "7654321"
    assert header["filler"] == " " * 17


def test_data_records_carry_each_payee():
    payees = [
        payee(1, account_type="ordinary", amount=5_000),
        payee(2, account_type="current", bank_code="0009", branch_code="250", name="すずき はなこ", amount=12_345),
        payee(
            3,
            account_type="savings",
            bank_name="",
            branch_name="",
            account_number="0000123",
            amount=9_999_999_999,
            customer_code_1="42",
            customer_code_2="9876543210",
        ),
    ]
    [content] = build_files(requester(), DATE, payees)
    data = read_file(content)["data"]
    assert len(data) == 3
    for record, expected in zip(data, payees, strict=True):
        assert record["record_type"] == "2"
        assert record["bank_code"] == expected.bank_code
        assert record["branch_code"] == expected.branch_code
        assert record["clearing_house"] == "0000"
        assert record["account_number"] == expected.account_number
        assert record["amount"] == f"{expected.amount:010d}"
        assert record["new_code"] == "0"
        assert record["transfer_type"] == "7"
        assert record["edi_flag"] == " "
        assert record["filler"] == " " * 7
    assert [record["account_type"] for record in data] == ["1", "2", "4"]
    assert data[0]["name"] == "ﾔﾏﾀﾞ ﾀﾛｳ".ljust(30)
    assert data[1]["name"] == "ｽｽﾞｷ ﾊﾅｺ".ljust(30)
    assert data[0]["bank_name"] == "ﾐﾂﾋﾞｼﾕｰｴﾌｼﾞｴｲ".ljust(15)
    assert data[0]["branch_name"] == "ﾎﾝﾃﾝ".ljust(15)
    assert data[2]["bank_name"] == " " * 15
    assert data[2]["branch_name"] == " " * 15
    assert data[2]["amount"] == "9999999999"
    assert [record["customer_code_1"] for record in data] == ["0000000000", "0000000000", "0000000042"]
    assert [record["customer_code_2"] for record in data] == ["0000000000", "0000000000", "9876543210"]
    # the half-width kana are single bytes: ﾔ ﾏ ﾀ ﾞ, space, ﾀ ﾛ ｳ
    assert data[0]["_raw"][50:80] == b"\xd4\xcf\xc0\xde \xc0\xdb\xb3" + b" " * 22


def test_trailer_and_end():
    payees = [payee(n, amount=n * 1_000) for n in range(1, 6)]
    [content] = build_files(requester(), DATE, payees)
    parsed = read_file(content)
    assert parsed["trailer"]["record_type"] == "8"
    assert parsed["trailer"]["count"] == "000005"
    assert parsed["trailer"]["total"] == "000000015000"
    assert parsed["trailer"]["filler"] == " " * 101
    assert parsed["end"]["record_type"] == "9"
    assert parsed["end"]["filler"] == " " * 119
    assert int(parsed["trailer"]["total"]) == sum(int(record["amount"]) for record in parsed["data"])


def test_every_record_is_120_bytes_and_crlf_terminated():
    [content] = build_files(requester(), DATE, [payee(n) for n in range(1, 4)])
    assert content.count(b"\r\n") == 6  # header, 3 data, trailer, end
    assert len(content) == 6 * 122
    assert all(len(line) == 120 for line in content.split(b"\r\n")[:-1])


def test_account_types_accept_the_project_choices_and_digits():
    for choice in AccountType:
        [content] = build_files(requester(), DATE, [payee(account_type=choice)])
        assert read_file(content)["data"][0]["account_type"] == ZENGIN_ACCOUNT_TYPE[choice]
    [content] = build_files(requester(account_type="1"), DATE, [payee(account_type="4")])
    parsed = read_file(content)
    assert parsed["header"]["account_type"] == "1"
    assert parsed["data"][0]["account_type"] == "4"


def test_short_account_numbers_are_zero_filled():
    [content] = build_files(requester(account_number="54321"), DATE, [payee(account_number="123")])
    parsed = read_file(content)
    assert parsed["header"]["account_number"] == "0054321"
    assert parsed["data"][0]["account_number"] == "0000123"


# -- splitting and packaging ----------------------------------------------------------------------------------------


def test_ten_thousand_payees_make_two_files_each_with_its_own_trailer():
    payees = [payee(n, amount=n) for n in range(1, 10_001)]
    files = build_files(requester(), DATE, payees)
    assert MAX_RECORDS == 9999
    assert len(files) == 2
    first, second = (read_file(content) for content in files)
    assert len(first["data"]) == 9999
    assert len(second["data"]) == 1
    assert first["trailer"]["count"] == "009999"
    assert int(first["trailer"]["total"]) == sum(range(1, 10_000)) == 49_995_000
    assert second["trailer"]["count"] == "000001"
    assert int(second["trailer"]["total"]) == 10_000
    assert second["data"][0]["account_number"] == "0010000"
    for parsed in (first, second):
        assert parsed["header"]["type_code"] == "21"
        assert parsed["header"]["date"] == "0305"
        assert int(parsed["trailer"]["total"]) == sum(int(record["amount"]) for record in parsed["data"])
    # every payee is in exactly one file, in order
    numbers = [int(record["account_number"]) for parsed in (first, second) for record in parsed["data"]]
    assert numbers == list(range(1, 10_001))


def test_exactly_9999_payees_make_one_file():
    files = build_files(requester(), DATE, [payee(n, amount=1) for n in range(1, 10_000)])
    assert len(files) == 1
    assert read_file(files[0])["trailer"]["count"] == "009999"


def test_a_batch_whose_total_overflows_the_trailer_is_split():
    # the trailer's total is N12: 100 × 9,999,999,999 fits, 101 does not
    files = build_files(requester(), DATE, [payee(n, amount=9_999_999_999) for n in range(1, 102)])
    assert len(files) == 2
    first, second = (read_file(content) for content in files)
    assert first["trailer"]["count"] == "000100"
    assert first["trailer"]["total"] == "999999999900"
    assert second["trailer"]["count"] == "000001"
    assert second["trailer"]["total"] == "009999999999"


def test_package_one_file_stays_text():
    files = build_files(requester(), DATE, [payee()])
    filename, content_type, content = package(files, "zengin-20260305")
    assert filename == "zengin-20260305.txt"
    assert content_type == "text/plain; charset=Shift_JIS"
    assert content == files[0]


def test_package_several_files_zips_them():
    files = [b"first\r\n", b"second\r\n", b"third\r\n"]
    filename, content_type, content = package(files, "zengin-20260305")
    assert filename == "zengin-20260305.zip"
    assert content_type == "application/zip"
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.namelist() == ["zengin-20260305-01.txt", "zengin-20260305-02.txt", "zengin-20260305-03.txt"]
        assert [archive.read(name) for name in archive.namelist()] == files
        assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in archive.infolist())
    assert package(files, "zengin-20260305") == (filename, content_type, content)  # deterministic


def test_package_of_a_split_batch():
    files = build_files(requester(), DATE, [payee(n, amount=1) for n in range(1, 10_001)])
    filename, _content_type, content = package(files, "batch")
    assert filename == "batch.zip"
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        counts = [read_file(archive.read(name))["trailer"]["count"] for name in archive.namelist()]
    assert counts == ["009999", "000001"]


def test_package_refuses_nothing():
    with pytest.raises(ValueError, match="at least one file"):
        package([], "x")


# -- text conversion ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "written"),
    [
        ("やまだ　たろう", "ﾔﾏﾀﾞ ﾀﾛｳ"),  # hiragana, ideographic space, voiced mark as its own byte
        ("ヤマダ　タロウ", "ﾔﾏﾀﾞ ﾀﾛｳ"),  # full-width katakana
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "ﾔﾏﾀﾞ ﾀﾛｳ"),  # already half-width
        ("ｶ)ﾔﾏﾀﾞｼｮｯﾌﾟ", "ｶ)ﾔﾏﾀﾞｼﾖﾂﾌﾟ"),  # keeps its symbol; small ｮ ｯ become ﾖ ﾂ
        ("カ）ヤマダショップ", "ｶ)ﾔﾏﾀﾞｼﾖﾂﾌﾟ"),
        ("ァィゥェォャュョッ", "ｱｲｳｴｵﾔﾕﾖﾂ"),  # every small kana
        ("ヵヶヮ", "ｶｹﾜ"),
        ("ぱぴぷぺぽ", "ﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟ"),  # semi-voiced marks
        ("ヴ", "ｳﾞ"),
        ("か\u3099", "ｶﾞ"),  # a combining voiced mark
        ("ＡＢＣ　ｘｙｚ　１２３", "ABC XYZ 123"),  # full-width letters and digits, lower case
        ("smith john", "SMITH JOHN"),
        ("スミス．ジョン－２／３，（カ）", "ｽﾐｽ.ｼﾞﾖﾝ-2/3,(ｶ)"),
        ("「ア」", "｢ｱ｣"),
        ("コーヒー", "ｺｰﾋｰ"),  # the long mark
        ("  ヤマダ   タロウ  ", "ﾔﾏﾀﾞ ﾀﾛｳ"),  # outer spaces stripped, inner runs made one
        ("¥＼￥", "\\\\\\"),  # the yen sign is byte 0x5C
    ],
)
def test_text_is_converted_to_upper_case_half_width(typed, written):
    assert to_zengin_kana(typed) == written
    assert zengin_text(typed, 30, "Holder", "name") == written.ljust(30)
    assert len(zengin_text(typed, 30, "Holder", "name").encode("cp932")) == 30


def test_converted_name_is_written_as_single_byte_kana():
    [content] = build_files(requester(), DATE, [payee(name="ｶ)ﾔﾏﾀﾞｼｮｯﾌﾟ"), payee(2, name="¥ヤマダ")])
    data = read_file(content)["data"]
    assert data[0]["name"] == "ｶ)ﾔﾏﾀﾞｼﾖﾂﾌﾟ".ljust(30)
    assert data[0]["_raw"][50:54] == b"\xb6)\xd4\xcf"
    assert data[1]["_raw"][50:52] == b"\\\xd4"


def test_a_name_that_fills_its_field_exactly_is_accepted():
    name = "ｱ" * 29 + "ﾞ"  # 30 half-width characters
    [content] = build_files(requester(), DATE, [payee(name=name)])
    assert read_file(content)["data"][0]["name"] == name


@pytest.mark.parametrize(
    ("name", "character"),
    [
        ("山田 太郎", "山"),  # kanji
        ("ヤマダ𠮷", "𠮷"),  # outside cp932
        ("ヤマダ😀", "😀"),  # emoji
        ("YAMADA@EXAMPLE", "@"),
        ("ＹＡＭＡＤＡ＠", "@"),
        ("ヤマダ・タロウ", "･"),  # the middle dot is not in the set
        ("ヰヤ&", "&"),
        ("Straße", "ß"),  # lower-case non-ASCII is not upper-cased into SS
    ],
)
def test_a_character_outside_the_set_is_refused_naming_the_payee_and_character(name, character):
    payees = [payee(1), payee(2, label="Yamada Taro", name=name)]
    problems = validate(requester(), payees)
    assert len(problems) == 1
    assert "Yamada Taro" in problems[0]
    assert "account holder name" in problems[0]
    assert character in problems[0]
    with pytest.raises(ZenginError) as raised:
        build_files(requester(), DATE, payees)
    assert raised.value.problems == problems


def test_zengin_text_raises_naming_label_field_and_character():
    with pytest.raises(ZenginError) as raised:
        zengin_text("ヤマダ漢", 30, "Hanako", "bank name")
    [problem] = raised.value.problems
    assert "Hanako" in problem
    assert "bank name" in problem
    assert "漢" in problem
    assert isinstance(raised.value, ValueError)


def test_a_name_too_long_is_refused_not_truncated():
    name = "ア" * 29 + "ガ"  # 29 + 2 = 31 half-width characters: the voiced mark counts
    problems = validate(requester(), [payee(label="Long Name", name=name)])
    assert len(problems) == 1
    assert "Long Name" in problems[0]
    assert "31" in problems[0]
    with pytest.raises(ZenginError):
        build_files(requester(), DATE, [payee(label="Long Name", name=name)])


def test_a_requester_name_too_long_is_refused():
    problems = validate(requester(name="ア" * 41), [payee()])
    assert len(problems) == 1
    assert "requester name" in problems[0]
    assert validate(requester(name="ア" * 40), [payee()]) == []


def test_an_empty_payee_name_is_refused():
    problems = validate(requester(), [payee(label="Nameless", name="  　")])
    assert len(problems) == 1
    assert "Nameless" in problems[0]
    assert "required" in problems[0]


# -- amounts and numbers --------------------------------------------------------------------------------------------


def test_the_largest_amount_is_accepted():
    [content] = build_files(requester(), DATE, [payee(amount=9_999_999_999)])
    parsed = read_file(content)
    assert parsed["data"][0]["amount"] == "9999999999"
    assert parsed["trailer"]["total"] == "009999999999"


def test_an_amount_over_the_maximum_is_refused():
    payees = [payee(1), payee(2, label="Rich Holder", amount=10_000_000_000)]
    problems = validate(requester(), payees)
    assert len(problems) == 1
    assert "Rich Holder" in problems[0]
    assert "10,000,000,000" in problems[0]
    with pytest.raises(ZenginError) as raised:
        build_files(requester(), DATE, payees)
    assert raised.value.problems == problems


@pytest.mark.parametrize("amount", [0, -1, True, 1.5, 1000.0, "1000", None])
def test_an_amount_that_is_not_a_positive_whole_number_is_refused(amount):
    problems = validate(requester(), [payee(label="Odd Amount", amount=amount)])
    assert len(problems) == 1
    assert "Odd Amount" in problems[0]
    assert "amount" in problems[0]


@pytest.mark.parametrize("number", ["12345678", "12-3456", "ABCDEFG", "", "123 456", "１２３４５６７８"])
def test_an_invalid_account_number_is_refused(number):
    payees = [payee(label="Bad Account", account_number=number)]
    problems = validate(requester(), payees)
    assert len(problems) == 1
    assert "Bad Account" in problems[0]
    assert "account number" in problems[0]
    with pytest.raises(ZenginError):
        build_files(requester(), DATE, payees)


def test_full_width_digits_are_accepted_in_numbers():
    [content] = build_files(requester(), DATE, [payee(account_number="１２３４５６７", bank_code="０００５")])
    data = read_file(content)["data"][0]
    assert data["account_number"] == "1234567"
    assert data["bank_code"] == "0005"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("bank_code", "5"),
        ("bank_code", "00050"),
        ("bank_code", "00A5"),
        ("branch_code", "01"),
        ("branch_code", "0001"),
        ("branch_code", ""),
        ("customer_code_1", "12345678901"),
        ("customer_code_2", "X"),
    ],
)
def test_invalid_codes_are_refused(field, value):
    problems = validate(requester(), [payee(label="Bad Code", **{field: value})])
    assert len(problems) == 1
    assert "Bad Code" in problems[0]
    assert field.replace("_", " ") in problems[0]


@pytest.mark.parametrize("account_type", ["checking", "", "3", "9", None])
def test_an_unknown_account_type_is_refused(account_type):
    problems = validate(requester(), [payee(label="Bad Type", account_type=account_type)])
    assert len(problems) == 1
    assert "Bad Type" in problems[0]
    assert "account type" in problems[0]


def test_zengin_number_pads_and_refuses():
    assert zengin_number("42", 10, "X", "code") == "0000000042"
    assert zengin_number(7, 3, "X", "code") == "007"
    assert zengin_number("0005", 4, "X", "code", exact=True) == "0005"
    with pytest.raises(ZenginError):
        zengin_number("5", 4, "X", "code", exact=True)
    with pytest.raises(ZenginError):
        zengin_number("12345", 4, "X", "code")


@pytest.mark.parametrize(
    "changes",
    [
        {"code": "123456789"},
        {"code": "12345678901"},
        {"name": ""},
        {"name": "株式会社"},
        {"bank_code": "1"},
        {"branch_code": "1000"},
        {"account_type": "foreign"},
        {"account_number": "12345678"},
        {"bank_name": "ミズホ@"},
    ],
)
def test_requester_problems_are_reported(changes):
    problems = validate(requester(**changes), [payee()])
    assert len(problems) == 1
    assert "Requester" in problems[0]
    with pytest.raises(ZenginError):
        build_files(requester(**changes), DATE, [payee()])


# -- every problem at once ------------------------------------------------------------------------------------------


def test_every_problem_is_reported_before_anything_is_built():
    payees = [
        payee(1, label="Good"),
        payee(2, label="Kanji Name", name="山田"),
        payee(3, label="Too Much", amount=10_000_000_000, account_number="ABC"),
        payee(4, label="Long Name", name="ア" * 31),
    ]
    problems = validate(requester(code="1"), payees)
    assert len(problems) == 5
    assert not any("Good" in problem for problem in problems)
    assert sum("Kanji Name" in problem for problem in problems) == 1
    assert sum("Too Much" in problem for problem in problems) == 2
    assert sum("Long Name" in problem for problem in problems) == 1
    assert sum("requester code" in problem for problem in problems) == 1
    with pytest.raises(ZenginError) as raised:
        build_files(requester(code="1"), DATE, payees)
    assert raised.value.problems == problems
    assert "Kanji Name" in str(raised.value)


def test_a_valid_batch_has_no_problems():
    assert validate(requester(), [payee(n) for n in range(1, 4)]) == []


def test_an_empty_batch_is_refused():
    with pytest.raises(ZenginError, match="nothing to transfer"):
        build_files(requester(), DATE, [])


def test_the_transfer_date_must_be_a_date():
    with pytest.raises(ZenginError, match="transfer date"):
        build_files(requester(), "2026-03-05", [payee()])  # type: ignore[arg-type]


def test_the_built_files_are_checked_against_their_trailer(monkeypatch):
    """The self-check after building: a trailer that disagrees with the data records stops the export."""
    real_record = zengin._record

    def wrong_trailer(layout, values):
        if values.get("record_type") == "8":
            values = {**values, "total_amount": "000000000001"}
        return real_record(layout, values)

    monkeypatch.setattr(zengin, "_record", wrong_trailer)
    with pytest.raises(ZenginError, match="inconsistent"):
        build_files(requester(), DATE, [payee()])


# -- the requester from settings ------------------------------------------------------------------------------------

SETTING = {
    "code": "0123456789",
    "name": "ライツレジャー",
    "bank_code": "0001",
    "bank_name": "ミズホ",
    "branch_code": "100",
    "branch_name": "トウキヨウ",
    "account_type": "ordinary",
    "account_number": "1234567",
}


def test_requester_from_settings(settings):
    settings.ZENGIN_REQUESTER = SETTING
    found = requester_from_settings()
    assert found == Requester(**SETTING)
    [content] = build_files(found, DATE, [payee()])
    header = read_file(content)["header"]
    assert header["requester_code"] == "0123456789"
    assert header["requester_name"] == "ﾗｲﾂﾚｼﾞﾔｰ".ljust(40)
    assert header["account_type"] == "1"
    assert header["account_number"] == "1234567"


def test_requester_from_settings_missing(settings):
    if hasattr(settings, "ZENGIN_REQUESTER"):
        del settings.ZENGIN_REQUESTER
    with pytest.raises(ZenginError, match="ZENGIN_REQUESTER") as raised:
        requester_from_settings()
    assert len(raised.value.problems) == 1


def test_requester_from_settings_empty(settings):
    settings.ZENGIN_REQUESTER = {}
    with pytest.raises(ZenginError, match="ZENGIN_REQUESTER"):
        requester_from_settings()


def test_requester_from_settings_incomplete(settings):
    settings.ZENGIN_REQUESTER = {key: value for key, value in SETTING.items() if key not in {"code", "bank_code"}}
    with pytest.raises(ZenginError) as raised:
        requester_from_settings()
    [problem] = raised.value.problems
    assert "code" in problem
    assert "bank_code" in problem
    assert "ZENGIN_REQUESTER" in problem
