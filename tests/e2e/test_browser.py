"""A real browser on the real server: a rights holder's user, browsing in Japanese, sees only its own works.

Playwright drives Debian's Chromium (`make browser`) against the gunicorn of the `stack` fixture, which serves the
admin's CSS and JS through whitenoise.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.text import capfirst
from django.utils.translation import override

from licensing.models import RightsHolder, RightsHolderMember, Share, Work
from licensing.roles import RIGHTS_HOLDERS, role_group
from tests.e2e.browser import chromium, missing

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(missing() is not None, reason=f"browser test: {missing()}")]

PASSWORD = "hikari-pw-2026-browser"
# holder A's works (one of them shared with B: A has a share of it, so it is A's too), then B's alone
A_WORKS = {"ひかりの海 第1巻": 100, "ひかりの海 第2巻": 100, "星降る街（共作）": 70}
B_WORKS = ["夕焼けの約束", "山田太郎 画集"]


def create_work(title: str, kind: str, shares: dict[RightsHolder, Decimal]) -> Work:
    assert sum(shares.values()) == Decimal(100)
    with transaction.atomic():  # the shares are checked to sum to 100.00 at COMMIT
        work = Work.objects.create(title=title, kind=kind)
        Share.objects.bulk_create(Share(work=work, rights_holder=h, share=s) for h, s in shares.items())
    return work


def test_a_rights_holder_browsing_the_admin_in_japanese_sees_only_its_own_works(stack, tmp_path):
    # --- data, committed (transactional_db) so the server sees it; before the browser opens (see browser.chromium)
    hikari = RightsHolder.objects.create(name="株式会社ひかり出版", name_kana="ｶﾌﾞｼｷｶﾞｲｼﾔ ﾋｶﾘｼﾕﾂﾊﾟﾝ", kind="corporation")
    yamada = RightsHolder.objects.create(name="山田太郎", name_kana="ﾔﾏﾀﾞ ﾀﾛｳ", kind="individual")
    for title, percent in A_WORKS.items():
        shares = {hikari: Decimal(percent)} | ({yamada: Decimal(100 - percent)} if percent < 100 else {})
        create_work(title, "manga_volume", shares)
    b_works = [create_work(title, "illustration", {yamada: Decimal(100)}) for title in B_WORKS]
    user = get_user_model().objects.create_user("hikari-desk", "desk@hikari.example.jp", PASSWORD, is_staff=True)
    user.groups.add(role_group(RIGHTS_HOLDERS))
    RightsHolderMember.objects.create(rights_holder=hikari, user=user)

    with override("ja"):  # our translations, as the server renders them for Accept-Language: ja
        app_ja = str(Work._meta.app_config.verbose_name)  # msgid "Licensing" (licensing/apps.py)
        works_ja = str(capfirst(Work._meta.verbose_name_plural))  # msgid "works" (licensing/models/catalogue.py)

    stack.wait_for("/healthz?check=database")
    with chromium() as browser:
        context = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
        context.set_default_timeout(30_000)
        page = context.new_page()
        accept_language = []
        page.on("request", lambda request: accept_language.append(request.headers.get("accept-language", "")))

        # the login page, in Django's own Japanese
        response = page.goto(f"{stack.base_url}/admin/login/?next=/admin/licensing/work/")
        assert response.status == 200, response.status
        assert accept_language[0].startswith("ja"), accept_language
        assert page.locator("html").get_attribute("lang") == "ja"
        assert "ユーザー名" in page.locator("label[for=id_username]").inner_text()
        assert "パスワード" in page.locator("label[for=id_password]").inner_text()
        submit = page.locator("#login-form [type=submit]")
        assert submit.get_attribute("value") == "ログイン"
        # the admin's stylesheet, served by whitenoise, is applied
        assert page.evaluate("[...document.styleSheets].some(s => (s.href || '').endsWith('/admin/css/base.css'))")
        assert page.locator("#header").evaluate("e => getComputedStyle(e).display") == "flex"

        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        with page.expect_navigation():
            submit.click()
        assert page.url == f"{stack.base_url}/admin/licensing/work/", page.url + "\n" + page.content()[:3000]

        # the works changelist: A's works, none of B's alone
        rows = page.locator("#result_list tbody th.field-title a")
        listed = rows.all_inner_texts()
        assert sorted(listed) == sorted(A_WORKS), listed
        content = page.content()
        for title in B_WORKS:
            assert title not in content
        # Django's Japanese around our Japanese: the user tools, the breadcrumbs and the title of the page
        assert "ログアウト" in page.locator("#logout-form").inner_text()
        breadcrumbs = page.locator(".breadcrumbs").inner_text()
        assert "ホーム" in breadcrumbs
        assert app_ja == "ライセンス"
        assert app_ja in breadcrumbs, breadcrumbs
        assert re.search("変更する .+ を選択", page.locator("#content h1").inner_text())
        page.screenshot(path=tmp_path / "works-ja.png", full_page=True)
        assert (tmp_path / "works-ja.png").stat().st_size > 10_000

        # one of B's works, by its change URL: the admin says it does not exist and goes back to the index
        hidden = b_works[0]
        response = page.goto(f"{stack.base_url}/admin/licensing/work/{hidden.pk}/change/")
        assert response.status in (200, 404), response.status
        assert hidden.title not in page.content()
        if response.status == 200:  # Django's redirect to the index, with its Japanese message
            assert page.url == f"{stack.base_url}/admin/", page.url
            assert "見つかりませんでした" in page.locator(".messagelist").inner_text()
        context.close()

    # last, as the rest does not depend on it: our Japanese name of the works in the navigation
    assert works_ja != "Works", (
        'locale/ja has no Japanese for msgid "works" (Work.Meta.verbose_name_plural in licensing/models/catalogue.py): '
        "the admin's breadcrumbs and navigation show English"
    )
    assert works_ja in breadcrumbs, breadcrumbs
