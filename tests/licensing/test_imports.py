"""Bulk import of works with their shares through the admin's import views (django-import-export): the dry-run
preview lists each row's errors and writes nothing; the confirm step creates or updates through the services."""

from __future__ import annotations

import io
from decimal import Decimal

import openpyxl
import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from import_export.formats.base_formats import CSV, XLSX

from licensing import services
from licensing.choices import WorkKind
from licensing.models import Share, Work, WorkIdentifier

from .factories import RightsHolderFactory, holder_user, work_with_shares

pytestmark = pytest.mark.django_db

IMPORT_URL = "/admin/licensing/work/import/"
CONFIRM_URL = "/admin/licensing/work/process_import/"
HEADER = "title,title_en,kind,parent,isbn,iscc,ext,shares"


# helpers -----------------------------------------------------------------------------------------------------------
def format_index(format_class) -> str:
    formats = admin.site._registry[Work].get_import_formats()
    return str(formats.index(format_class))


def csv_bytes(*lines: str, encoding: str = "utf-8-sig") -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def xlsx_bytes(rows: list[list]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def preview(client: Client, content: bytes, *, name: str = "works.csv", format_class=CSV):
    response = client.post(
        IMPORT_URL,
        {
            "resource": "0",
            "format": format_index(format_class),
            "import_file": SimpleUploadedFile(name, content),
        },
    )
    assert response.status_code == 200, response.content[:2000]
    return response


def row_errors(response) -> dict[int, dict[str, list[str]]]:
    """Row number → column → messages, as the preview lists them."""
    result = response.context["result"]
    assert not result.has_errors(), [error.error for _line, errors in result.row_errors() for error in errors]
    return {row.number: row.error_dict for row in result.invalid_rows}


def confirm(client: Client, response):
    confirm_form = response.context["confirm_form"]
    assert confirm_form is not None, row_errors(response)
    confirmed = client.post(CONFIRM_URL, {name: confirm_form.initial[name] for name in confirm_form.fields})
    assert confirmed.status_code == 302, confirmed.content[:2000]
    assert confirmed["Location"].endswith("/admin/licensing/work/")
    return confirmed


def shares_of(work: Work) -> dict[str, Decimal]:
    return {share.rights_holder.name: share.share for share in work.shares.select_related("rights_holder")}


# fixtures ----------------------------------------------------------------------------------------------------------
@pytest.fixture
def publisher():
    return RightsHolderFactory(name="株式会社ひかり出版", name_kana="ｶﾌﾞｼｷｶﾞｲｼﾔ ﾋｶﾘｼﾕﾂﾊﾟﾝ")


@pytest.fixture
def artist():
    return RightsHolderFactory(name="山田太郎", name_kana="ﾔﾏﾀﾞ ﾀﾛｳ", kind="individual")


@pytest.fixture
def staff_client() -> Client:
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def artist_client(artist) -> Client:
    client = Client()
    client.force_login(holder_user(artist, "yamada"))
    return client


# staff -------------------------------------------------------------------------------------------------------------
def test_finance_may_not_import(db):
    from django.contrib.auth.models import Group

    from licensing.roles import FINANCE

    user = get_user_model().objects.create_user("finance", password="pw-finance-123", is_staff=True)
    user.groups.add(Group.objects.get(name=FINANCE))
    client = Client()
    client.force_login(user)
    assert client.get(IMPORT_URL).status_code == 403


def test_import_page_lists_the_columns(staff_client):
    response = staff_client.get(IMPORT_URL)
    assert response.status_code == 200
    for column in ("id", "title", "kind", "parent", "isbn", "ext", "shares"):
        assert column in response.context["fields_list"][0][1]


def test_preview_lists_each_bad_row_with_its_column_and_creates_nothing(staff_client, publisher, artist):
    works_before = Work.objects.count()
    response = preview(
        staff_client,
        csv_bytes(
            HEADER,
            "星の海,Sea of Stars,manga_series,,,,,株式会社ひかり出版=60.00; 山田太郎=40.00",
            "夜明けのうた,,illustration,,,,,株式会社ひかり出版=60.00; 山田太郎=39.00",
            "風の谷,,illustration,,,,,存在しない出版社=100",
            "月の庭,,manga_volume,,978-4-08-851124-0,,,山田太郎=100",
            "空の旅,,comic,isbn:9784088511245,,,,山田太郎=100",
            ",,other,,,,,山田太郎=100",
        ),
    )
    errors = row_errors(response)
    assert sorted(errors) == [2, 3, 4, 5, 6]
    assert "Shares must sum to exactly 100.00, not 99.00." in errors[2]["shares"]
    assert errors[3] == {"shares": ["Unknown rights holder: 存在しない出版社."]}
    assert list(errors[4]) == ["isbn"]
    assert set(errors[5]) == {"kind", "parent"}
    assert errors[6] == {"title": ["A title is required."]}
    assert response.context.get("confirm_form") is None
    page = response.content.decode()
    assert "Some rows failed to validate" in page
    assert "Unknown rights holder: 存在しない出版社." in page
    assert Work.objects.count() == works_before
    assert not Share.objects.exists()


def test_duplicate_holder_and_bad_percentages_name_the_entry(staff_client, publisher, artist):
    response = preview(
        staff_client,
        csv_bytes(
            "title,kind,shares",
            "星の海,manga_series,山田太郎=50; 山田太郎=50",
            "星の海2,manga_series,山田太郎=100.005",
            "星の海3,manga_series,山田太郎=たくさん",
            "星の海4,manga_series,山田太郎",
        ),
    )
    errors = row_errors(response)
    assert errors[1] == {"shares": ["“山田太郎=50”: This rights holder is listed twice."]}
    assert errors[2]["shares"][0].startswith("“山田太郎=100.005”: A share is a percentage")
    assert errors[3] == {"shares": ["“山田太郎=たくさん”: たくさん is not a percentage."]}
    assert errors[4] == {"shares": ["“山田太郎”: write a share as <rights holder>=<percentage>."]}


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8"])
def test_staff_confirms_a_japanese_csv_and_gets_works_shares_and_identifiers(staff_client, publisher, artist, encoding):
    content = csv_bytes(
        HEADER,
        '星の海,Sea of Stars,manga_series,,,,"shueisha:SJ-001; jan:4901234567894",'
        f"{publisher.pk}=60.00; 山田太郎=40.00",
        "星の海 第1巻,,manga_volume,ext:shueisha:SJ-001,978-4-08-851124-5,,,",
        "星の海 第2巻,,Manga volume,isbn:9784088511245,,,,山田太郎=100",
        encoding=encoding,
    )
    response = preview(staff_client, content)
    assert row_errors(response) == {}
    assert [row.import_type for row in response.context["result"].rows] == ["new", "new", "new"]
    assert "星の海 第1巻" in response.content.decode()
    assert not Work.objects.filter(title__startswith="星の海").exists()  # the dry run was rolled back

    confirm(staff_client, response)
    series = Work.objects.get(title="星の海")
    assert series.title_en == "Sea of Stars"
    assert series.kind == "manga_series"
    assert shares_of(series) == {"株式会社ひかり出版": Decimal("60.00"), "山田太郎": Decimal("40.00")}
    assert set(WorkIdentifier.objects.filter(work=series).values_list("scheme", "value")) == {
        ("shueisha", "SJ-001"),
        ("jan", "4901234567894"),
    }
    volume = Work.objects.get(title="星の海 第1巻")
    assert volume.parent == series
    assert volume.isbn == "9784088511245"
    assert not volume.shares.exists()  # inherits the series' shares
    second = Work.objects.get(title="星の海 第2巻")
    assert second.parent == volume
    assert second.kind == "manga_volume"
    assert shares_of(second) == {"山田太郎": Decimal("100.00")}


def test_staff_imports_an_xlsx_file(staff_client, publisher, artist):
    content = xlsx_bytes(
        [
            ["title", "title_en", "kind", "isbn", "shares"],
            ["夜明けのうた", "Song of Dawn", "illustration", None, "山田太郎=100.00"],
            [None, None, None, None, None],  # an empty row: skipped
            ["月の庭 第1巻", "Moon Garden 1", "manga_volume", 9784088511245, "株式会社ひかり出版=70; 山田太郎=30"],
        ]
    )
    response = preview(staff_client, content, name="works.xlsx", format_class=XLSX)
    assert row_errors(response) == {}
    assert [row.import_type for row in response.context["result"].rows] == ["new", "skip", "new"]

    confirm(staff_client, response)
    dawn = Work.objects.get(title="夜明けのうた")
    assert dawn.title_en == "Song of Dawn"
    assert shares_of(dawn) == {"山田太郎": Decimal("100.00")}
    garden = Work.objects.get(isbn="9784088511245")
    assert shares_of(garden) == {"株式会社ひかり出版": Decimal("70.00"), "山田太郎": Decimal("30.00")}


def test_xlsx_preview_lists_row_errors(staff_client, artist):
    content = xlsx_bytes(
        [
            ["title", "kind", "shares"],
            ["夜明けのうた", "illustration", "山田太郎=99"],
        ]
    )
    errors = row_errors(preview(staff_client, content, name="works.xlsx", format_class=XLSX))
    assert errors == {1: {"shares": ["Shares must sum to exactly 100.00, not 99."]}}
    assert not Work.objects.exists()


def test_an_id_column_updates_the_work_it_names_and_creates_the_others(staff_client, publisher, artist):
    work = work_with_shares((publisher, "100.00"), title="旧題", kind="manga_series")
    unknown = "0b5f4d6e-8f2a-4f5e-9a43-3c1e2f0d9a77"
    response = preview(
        staff_client,
        csv_bytes(
            "id,title,shares",
            f"{work.pk},新題,株式会社ひかり出版=50; 山田太郎=50",
            f"{unknown},新しい作品,山田太郎=100",
        ),
    )
    errors = row_errors(response)
    assert errors == {2: {"kind": [f"Choose one of: {', '.join(WorkKind.values)}."]}}

    response = preview(
        staff_client,
        csv_bytes(
            "id,title,kind,shares",
            f"{work.pk},新題,manga_series,株式会社ひかり出版=50; 山田太郎=50",
            f"{unknown},新しい作品,other,山田太郎=100",
        ),
    )
    assert [row.import_type for row in response.context["result"].rows] == ["update", "new"]
    confirm(staff_client, response)
    work.refresh_from_db()
    assert work.title == "新題"
    assert shares_of(work) == {"株式会社ひかり出版": Decimal("50.00"), "山田太郎": Decimal("50.00")}
    created = Work.objects.get(title="新しい作品")
    assert str(created.pk) != unknown


def test_an_update_leaves_the_columns_the_file_does_not_have(staff_client, publisher):
    work = work_with_shares((publisher, "100.00"), title="旧題", title_en="Old", kind="manga_series")
    confirm(staff_client, preview(staff_client, csv_bytes("id,title", f"{work.pk},新題")))
    work.refresh_from_db()
    assert (work.title, work.title_en, work.kind) == ("新題", "Old", "manga_series")
    assert shares_of(work) == {"株式会社ひかり出版": Decimal("100.00")}


def test_a_duplicate_isbn_is_a_row_error(staff_client, artist):
    work_with_shares((artist, "100.00"), title="既存", kind="manga_volume", isbn="9784088511245")
    errors = row_errors(
        preview(staff_client, csv_bytes("title,kind,isbn,shares", "新刊,manga_volume,4-08-851124-7,山田太郎=100"))
    )
    assert errors == {1: {"isbn": ["Another work already has this ISBN."]}}


def test_unknown_columns_are_reported_on_every_row(staff_client, artist):
    errors = row_errors(preview(staff_client, csv_bytes("title,kind,share", "夜明けのうた,illustration,山田太郎=100")))
    assert "Unknown column(s): share." in errors[1]["__all__"][0]


def test_the_database_share_rule_is_a_row_error_even_if_python_missed_it(staff_client, artist, monkeypatch):
    """The deferred trigger is fired inside the row's savepoint, not at COMMIT: a row error, never a 500."""
    monkeypatch.setattr(services, "_validate_shares", lambda shares, errors: None)
    errors = row_errors(preview(staff_client, csv_bytes("title,kind,shares", "夜明けのうた,illustration,山田太郎=99")))
    assert errors == {1: {"shares": ["Shares must sum to exactly 100.00."]}}
    assert not Work.objects.exists()


def test_a_shift_jis_csv_is_a_form_error_not_a_server_error(staff_client, artist):
    response = preview(
        staff_client, csv_bytes("title,kind,shares", "夜明けのうた,illustration,山田太郎=100", encoding="shift_jis")
    )
    assert "import_file" in response.context["form"].errors
    assert not Work.objects.exists()


# rights holders ----------------------------------------------------------------------------------------------------
def test_a_rights_holder_imports_only_works_it_has_a_share_of(artist_client, publisher, artist):
    theirs = work_with_shares((publisher, "100.00"), title="ひかりの作品", kind="manga_series")
    response = preview(
        artist_client,
        csv_bytes(
            "title,kind,parent,shares",
            "夜明けのうた,illustration,,山田太郎=100",
            "ひかりだけの作品,illustration,,株式会社ひかり出版=100",
            f"続編,manga_volume,{theirs.pk},",
        ),
    )
    errors = row_errors(response)
    assert errors == {
        2: {"shares": ["Your own rights holder must have a share of the work."]},
        3: {"parent": [f"Unknown parent work: {theirs.pk}."]},
    }
    assert not Work.objects.exclude(pk=theirs.pk).exists()


def test_a_rights_holder_confirms_its_own_works(artist_client, publisher, artist):
    own = work_with_shares((artist, "100.00"), title="夜明けのうた", kind="manga_series")
    theirs = work_with_shares((publisher, "100.00"), title="ひかりの作品", kind="manga_series")
    response = preview(
        artist_client,
        csv_bytes(
            "id,title,kind,parent,shares",
            f"{own.pk},夜明けのうた（新装版）,manga_series,,山田太郎=80; 株式会社ひかり出版=20",
            f",夜明けのうた 第1巻,manga_volume,{own.pk},",
            f"{theirs.pk},乗っ取り,manga_series,,山田太郎=100",  # not visible to this user: a new work
        ),
    )
    assert row_errors(response) == {}
    assert [row.import_type for row in response.context["result"].rows] == ["update", "new", "new"]
    confirm(artist_client, response)
    own.refresh_from_db()
    assert own.title == "夜明けのうた（新装版）"
    assert shares_of(own) == {"山田太郎": Decimal("80.00"), "株式会社ひかり出版": Decimal("20.00")}
    assert Work.objects.get(title="夜明けのうた 第1巻").parent == own
    theirs.refresh_from_db()
    assert theirs.title == "ひかりの作品"
    assert shares_of(theirs) == {"株式会社ひかり出版": Decimal("100.00")}
    assert shares_of(Work.objects.get(title="乗っ取り")) == {"山田太郎": Decimal("100.00")}


def test_a_rights_holder_cannot_give_its_whole_work_away(artist_client, publisher, artist):
    own = work_with_shares((artist, "100.00"), title="夜明けのうた", kind="manga_series")
    errors = row_errors(preview(artist_client, csv_bytes("id,shares", f"{own.pk},株式会社ひかり出版=100")))
    assert errors == {1: {"shares": ["Your own rights holder must keep a share of the work (or of its parent)."]}}
    assert shares_of(own) == {"山田太郎": Decimal("100.00")}


def test_a_parent_cycle_is_a_row_error(staff_client, artist):
    series = work_with_shares((artist, "100.00"), title="星の海", kind="manga_series")
    volume = work_with_shares(title="星の海 第1巻", kind="manga_volume", parent=series)
    errors = row_errors(preview(staff_client, csv_bytes("id,parent", f"{series.pk},{volume.pk}")))
    assert list(errors) == [1]
    series.refresh_from_db()
    assert series.parent is None


@pytest.mark.django_db(transaction=True)  # a real COMMIT, where PostgreSQL checks the deferred share-sum trigger
def test_confirmed_import_commits_and_a_row_the_database_refuses_is_not_a_server_error(monkeypatch):
    """Even if a file changed between preview and confirm, or Python let a bad sum through, the COMMIT holds."""
    from import_export.tmp_storages import TempFolderStorage

    holder = RightsHolderFactory(name="山田太郎")
    client = Client(raise_request_exception=True)
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123"))
    monkeypatch.setattr(services, "_validate_shares", lambda shares, errors: None)
    storage = TempFolderStorage(encoding="utf-8-sig", read_mode="r")
    storage.save(
        csv_bytes("title,kind,shares", "夜明けのうた,illustration,山田太郎=100", "欠けた作品,other,山田太郎=99")
    )
    response = client.post(
        CONFIRM_URL,
        {"import_file_name": storage.name, "original_file_name": "works.csv", "format": format_index(CSV)},
    )
    assert response.status_code == 302
    assert shares_of(Work.objects.get(title="夜明けのうた")) == {holder.name: Decimal("100.00")}
    assert not Work.objects.filter(title="欠けた作品").exists()
