import pytest
from rest_framework.test import APIClient

from licensing.services import api_key_create

from .factories import LicenseeFactory, RightsHolderFactory, holder_user, work_with_shares


def client_for(**owner) -> APIClient:
    _, key = api_key_create(name="test", **owner)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def world(db, staff_user):
    """Two rights holders with their own works and logins, a co-owned anime series, and a licensee."""
    publisher = RightsHolderFactory(name="株式会社ひかり出版", name_kana="ｶﾌﾞｼｷｶﾞｲｼﾔ ﾋｶﾘｼﾕﾂﾊﾟﾝ")
    artist = RightsHolderFactory(name="山田太郎", name_kana="ﾔﾏﾀﾞ ﾀﾛｳ", kind="individual")
    series = work_with_shares((publisher, "100.00"), title="星の海", title_en="Sea of Stars", kind="manga_series")
    volume = work_with_shares(title="星の海 第1巻", kind="manga_volume", parent=series, isbn="9784088511245")
    artist_work = work_with_shares((artist, "100.00"), title="夜明けのうた", kind="illustration")
    anime = work_with_shares((publisher, "60.00"), (artist, "40.00"), title="星の海 アニメ", kind="anime_series")
    licensee = LicenseeFactory(name="Example AI Video")
    return {
        "publisher": publisher,
        "artist": artist,
        "series": series,
        "volume": volume,
        "artist_work": artist_work,
        "anime": anime,
        "licensee": licensee,
        "staff": client_for(user=staff_user),
        "publisher_client": client_for(user=holder_user(publisher, "hikari")),
        "artist_client": client_for(user=holder_user(artist, "yamada")),
        "licensee_client": client_for(licensee=licensee),
    }
