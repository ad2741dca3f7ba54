"""The admin for rights holders' users: only their own world, in Japanese when the browser asks for it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from licensing.models import Share, Work

from .factories import LicenseeFactory, RightsHolderFactory, holder_user, work_with_shares

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(db):
    hikari = RightsHolderFactory(name="株式会社ひかり出版")
    yamada = RightsHolderFactory(name="山田太郎", kind="individual")
    series = work_with_shares((hikari, "100.00"), title="星の海")
    volume = work_with_shares(title="星の海 第1巻", parent=series)
    drawing = work_with_shares((yamada, "100.00"), title="夜明けのうた")
    return {"hikari": hikari, "yamada": yamada, "series": series, "volume": volume, "drawing": drawing}


@pytest.fixture
def hikari_admin(client, catalogue):
    client.force_login(holder_user(catalogue["hikari"], "hikari"))
    return client


@pytest.fixture
def staff_admin(client):
    client.force_login(get_user_model().objects.create_superuser("root", "r@example.com", "pw-root-123"))
    return client


def share_formset(prefix: str, rows: list[tuple], initial: int = 0) -> dict:
    data = {f"{prefix}-TOTAL_FORMS": str(len(rows)), f"{prefix}-INITIAL_FORMS": str(initial),
            f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"}  # fmt: skip
    for index, (share_id, holder_id, share, delete) in enumerate(rows):
        data |= {
            f"{prefix}-{index}-id": share_id or "",
            f"{prefix}-{index}-rights_holder": str(holder_id),
            f"{prefix}-{index}-share": share,
        }
        if delete:
            data[f"{prefix}-{index}-DELETE"] = "on"
    return data


def work_form(work: Work, shares: list[tuple], initial: int) -> dict:
    return {
        "title": work.title, "title_en": work.title_en, "kind": work.kind,
        "parent": str(work.parent_id or ""), "isbn": work.isbn or "", "iscc": work.iscc or "",
        **share_formset("shares", shares, initial),
        **share_formset("external_ids", []),
    }  # fmt: skip


def test_a_holder_user_lists_only_its_own_works_including_inherited_ones(hikari_admin, catalogue):
    html = hikari_admin.get("/admin/licensing/work/").content.decode()
    assert "星の海" in html
    assert "星の海 第1巻" in html
    assert "夜明けのうた" not in html


def test_a_holder_user_cannot_open_or_change_another_holders_work(hikari_admin, catalogue):
    drawing = catalogue["drawing"]
    response = hikari_admin.get(f"/admin/licensing/work/{drawing.pk}/change/", follow=True)
    assert "夜明けのうた" not in response.content.decode()
    full_form = work_form(drawing, [(drawing.shares.get().pk, catalogue["yamada"].pk, "100.00", False)], initial=1)
    hikari_admin.post(f"/admin/licensing/work/{drawing.pk}/change/", full_form | {"title": "奪った"})
    drawing.refresh_from_db()
    assert drawing.title == "夜明けのうた"
    html = hikari_admin.get("/admin/licensing/rightsholder/").content.decode()
    assert "株式会社ひかり出版" in html
    assert "山田太郎" not in html
    assert hikari_admin.get(f"/admin/licensing/rightsholder/{catalogue['yamada'].pk}/change/").status_code == 302


def test_shares_not_summing_to_100_are_a_form_error_and_change_nothing(staff_admin, catalogue):
    series, hikari, yamada = catalogue["series"], catalogue["hikari"], catalogue["yamada"]
    share = Share.objects.get(work=series)
    data = work_form(series, [(share.pk, hikari.pk, "60.00", False), (None, yamada.pk, "30.00", False)], initial=1)
    response = staff_admin.post(f"/admin/licensing/work/{series.pk}/change/", data)
    assert response.status_code == 200
    assert "The shares sum to 90.00%; they must sum to exactly 100.00%." in response.content.decode()
    assert list(Share.objects.filter(work=series).values_list("share", flat=True)) == [100]


def test_a_valid_change_of_shares_is_saved_with_its_history(staff_admin, catalogue):
    series, hikari, yamada = catalogue["series"], catalogue["hikari"], catalogue["yamada"]
    share = Share.objects.get(work=series)
    data = work_form(series, [(share.pk, hikari.pk, "60.00", False), (None, yamada.pk, "40.00", False)], initial=1)
    response = staff_admin.post(f"/admin/licensing/work/{series.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert sorted(Share.objects.filter(work=series).values_list("share", flat=True)) == [40, 60]
    history = staff_admin.get(f"/admin/licensing/work/{series.pk}/history/").content.decode()
    assert "root" in history
    assert Share.history.filter(work_id=series.pk, history_user__username="root").exists()


def test_a_holder_user_must_keep_its_own_share(hikari_admin, catalogue):
    series, hikari, yamada = catalogue["series"], catalogue["hikari"], catalogue["yamada"]
    share = Share.objects.get(work=series)
    data = work_form(series, [(share.pk, yamada.pk, "100.00", False)], initial=1)
    response = hikari_admin.post(f"/admin/licensing/work/{series.pk}/change/", data)
    assert "Your own rights holder must keep a share of the work." in response.content.decode()
    assert Share.objects.get(work=series).rights_holder == hikari


def test_a_co_owner_cannot_change_another_co_owners_share(client, catalogue):
    hikari, yamada = catalogue["hikari"], catalogue["yamada"]
    anime = work_with_shares((hikari, "60.00"), (yamada, "40.00"), title="アニメ")
    client.force_login(holder_user(hikari, "hikari-co"))
    own, theirs = (
        Share.objects.get(work=anime, rights_holder=hikari),
        Share.objects.get(work=anime, rights_holder=yamada),
    )
    data = work_form(anime, [(own.pk, hikari.pk, "90.00", False), (theirs.pk, yamada.pk, "10.00", False)], initial=2)
    response = client.post(f"/admin/licensing/work/{anime.pk}/change/", data)
    assert "Only platform staff can change or remove another rights holder&#x27;s share." in response.content.decode()
    assert sorted(Share.objects.filter(work=anime).values_list("share", flat=True)) == [40, 60]
    assert client.post(f"/admin/licensing/work/{anime.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Work.objects.filter(pk=anime.pk).exists()


def test_a_holder_user_reads_the_agreements_covering_its_works_but_cannot_change_them(hikari_admin, catalogue):
    from licensing.models import Agreement

    covering = Agreement.objects.create(
        licensee=LicenseeFactory(name="Covering AI"), reference="AGR-COVER", currency="JPY", starts_on="2026-01-01",
        territories=["JP"], uses=["training"], status="active",
    )  # fmt: skip
    covering.scope_works.add(catalogue["series"])
    other = Agreement.objects.create(
        licensee=LicenseeFactory(name="Other AI"), reference="AGR-OTHER", currency="JPY", starts_on="2026-01-01",
        territories=["JP"], uses=["training"], status="active",
    )  # fmt: skip
    other.scope_works.add(catalogue["drawing"])
    html = hikari_admin.get("/admin/licensing/agreement/").content.decode()
    assert "AGR-COVER" in html
    assert "AGR-OTHER" not in html
    page = hikari_admin.get(f"/admin/licensing/agreement/{covering.pk}/change/").content.decode()
    assert 'name="_save"' not in page
    hikari_admin.post(f"/admin/licensing/agreement/{covering.pk}/change/", {"reference": "HACKED"})
    covering.refresh_from_db()
    assert covering.reference == "AGR-COVER"


def test_the_admin_speaks_japanese_to_a_japanese_browser(hikari_admin):
    html = hikari_admin.get("/admin/licensing/work/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "作品" in html
    assert 'lang="ja"' in html
    assert 'id="language-switch"' in html
    html = hikari_admin.get("/admin/licensing/work/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'lang="en"' in html


def test_the_language_can_be_switched(hikari_admin):
    response = hikari_admin.post("/i18n/setlang/", {"language": "ja", "next": "/admin/"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    assert 'lang="ja"' in hikari_admin.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_search_finds_japanese_substrings_and_isbns(staff_admin, catalogue):
    Work.objects.filter(pk=catalogue["volume"].pk).update(isbn="9784088511245")
    html = staff_admin.get("/admin/licensing/work/?q=の海").content.decode()
    assert "星の海" in html
    assert "夜明けのうた" not in html
    html = staff_admin.get("/admin/licensing/work/?q=4-08-851124-7").content.decode()
    assert "星の海 第1巻" in html


def test_the_changelist_never_counts_the_whole_table(staff_admin, catalogue):
    with CaptureQueriesContext(connection) as queries:
        assert staff_admin.get("/admin/licensing/work/").status_code == 200
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts
    assert all("LIMIT" in sql.upper() for sql in counts), counts


def agreement_form(agreement, terms: list[dict], initial: int = 0) -> dict:
    data = {
        "licensee": str(agreement.licensee_id), "reference": agreement.reference, "version": agreement.version,
        "supersedes": "", "currency": agreement.currency, "starts_on": str(agreement.starts_on), "ends_on": "",
        "territories": ",".join(agreement.territories), "uses": ",".join(agreement.uses),
        "scope_catalogue": "on", "commission": str(agreement.commission), "status": agreement.status,
        "terms-TOTAL_FORMS": str(len(terms)), "terms-INITIAL_FORMS": str(initial), "terms-MIN_NUM_FORMS": "0",
        "terms-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    for index, term in enumerate(terms):
        for key, value in term.items():
            data[f"terms-{index}-{key}"] = value
    return data


@pytest.fixture
def agreement(db):
    from licensing.models import Agreement

    return Agreement.objects.create(
        licensee=LicenseeFactory(), reference="AGR-ADMIN", currency="JPY", starts_on="2026-01-01",
        territories=["JP"], uses=["training", "generation"], scope_catalogue=True, status="active",
    )  # fmt: skip


def test_a_term_without_the_fields_of_its_type_is_a_form_error(staff_admin, agreement):
    data = agreement_form(agreement, [{"type": "per_unit", "use": "generation", "position": "0"}])
    response = staff_admin.post(f"/admin/licensing/agreement/{agreement.pk}/change/", data)
    assert response.status_code == 200
    assert "A rate of 0 or more" in response.content.decode()
    assert not agreement.terms.exists()
    data = agreement_form(agreement, [{"type": "per_unit", "use": "generation", "rate": "0.5", "position": "0"}])
    assert staff_admin.post(f"/admin/licensing/agreement/{agreement.pk}/change/", data).status_code == 302
    assert agreement.terms.get().rate == Decimal("0.5")


def test_a_frozen_agreements_terms_cannot_change_in_the_admin(staff_admin, agreement):
    from django.utils import timezone

    from licensing.models import Agreement

    Agreement.objects.filter(pk=agreement.pk).update(frozen_at=timezone.now())
    agreement.refresh_from_db()
    data = agreement_form(agreement, [{"type": "per_unit", "use": "generation", "rate": "9", "position": "0"}])
    response = staff_admin.post(f"/admin/licensing/agreement/{agreement.pk}/change/", data)
    assert response.status_code == 200
    assert "change it with a new version" in response.content.decode()
    assert not agreement.terms.exists()


def test_an_overlapping_version_is_a_form_error(staff_admin, agreement):
    from licensing.models import Agreement

    data = agreement_form(agreement, [])
    data |= {"version": "2", "starts_on": "2026-06-01"}
    response = staff_admin.post("/admin/licensing/agreement/add/", data)
    assert response.status_code == 200
    assert "overlaps another version" in response.content.decode()
    assert Agreement.objects.count() == 1


def test_history_of_another_holders_objects_is_not_shown(hikari_admin, catalogue):
    yamada, drawing = catalogue["yamada"], catalogue["drawing"]
    RightsHolder = type(yamada)
    version = RightsHolder.history.filter(id=yamada.pk).first()
    assert hikari_admin.get(f"/admin/licensing/rightsholder/{yamada.pk}/history/").status_code == 404
    assert hikari_admin.get(f"/admin/licensing/work/{drawing.pk}/history/").status_code == 404
    url = f"/admin/licensing/rightsholder/{yamada.pk}/history/{version.history_id}/"
    assert hikari_admin.get(url).status_code == 404
    assert hikari_admin.post(url, {"name": "乗っ取り", "name_kana": "ﾉﾂﾄﾘ", "kind": "individual"}).status_code == 404
    yamada.refresh_from_db()
    assert yamada.name == "山田太郎"
    assert hikari_admin.get(f"/admin/licensing/rightsholder/{catalogue['hikari'].pk}/history/").status_code == 200


def test_a_holder_cannot_file_its_work_under_another_holders_work(hikari_admin, catalogue):
    hikari, drawing = catalogue["hikari"], catalogue["drawing"]
    new = Work(title="便乗", kind="illustration")
    data = work_form(new, [(None, hikari.pk, "100.00", False)], initial=0) | {"parent": str(drawing.pk)}
    response = hikari_admin.post("/admin/licensing/work/add/", data)
    assert response.status_code == 200
    assert not Work.objects.filter(title="便乗").exists()


def test_view_only_users_cannot_run_change_actions(client, catalogue):
    from django.contrib.auth import get_user_model

    from licensing.models import Reservation
    from licensing.roles import FINANCE, role_group

    reservation = Reservation.objects.create(rights_holder=catalogue["yamada"], uses=["training"])
    finance = get_user_model().objects.create_user("fin", password="pw-fin-123", is_staff=True)
    finance.groups.add(role_group(FINANCE))
    client.force_login(finance)
    client.post("/admin/licensing/reservation/", {"action": "lift", "_selected_action": [str(reservation.pk)]})
    reservation.refresh_from_db()
    assert reservation.lifted_at is None


def test_terminating_a_running_agreement_in_the_admin_ends_it_today(staff_admin, agreement):
    from django.utils import timezone

    data = agreement_form(agreement, []) | {"status": "terminated"}
    assert staff_admin.post(f"/admin/licensing/agreement/{agreement.pk}/change/", data).status_code == 302
    agreement.refresh_from_db()
    assert (agreement.status, agreement.ends_on) == ("terminated", timezone.localdate())
