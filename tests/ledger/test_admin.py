import pytest
from django.contrib.auth import get_user_model

from ledger.money import Money
from ledger.services import journal_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_logged_in(client):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    client.force_login(user)
    return client


@pytest.fixture
def txn(accounts):
    return journal_post(
        legs=[(accounts["bank"], Money(1500, "JPY")), (accounts["payable"], Money(-1500, "JPY"))],
        idempotency_key="admin-view",
        memo="十月分",
    )


def test_accounts_show_balances(admin_client_logged_in, txn, accounts):
    response = admin_client_logged_in.get("/admin/ledger/account/")
    assert response.status_code == 200
    html = response.content.decode()
    assert accounts["bank"].code in html
    assert "￥1,500" in html
    assert "-￥1,500" in html


def test_transactions_show_postings_and_are_read_only(admin_client_logged_in, txn):
    response = admin_client_logged_in.get(f"/admin/ledger/journaltransaction/{txn.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "十月分" in html
    assert txn.hash in html
    assert 'name="_save"' not in html
    assert admin_client_logged_in.get("/admin/ledger/journaltransaction/add/").status_code == 403
    assert admin_client_logged_in.post(f"/admin/ledger/journaltransaction/{txn.pk}/delete/").status_code == 403
    assert admin_client_logged_in.get("/admin/ledger/journaltransaction/?q=admin-view").status_code == 200
