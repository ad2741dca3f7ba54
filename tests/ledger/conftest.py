import pytest

from ledger.choices import AccountPurpose, OwnerType
from ledger.services import account_get_or_create


@pytest.fixture
def accounts(db):
    """Bank (asset), a holder's payable (liability), commission income: JPY; plus a USD bank."""
    import uuid

    holder = uuid.uuid4()
    return {
        "bank": account_get_or_create(purpose=AccountPurpose.BANK, currency="JPY"),
        "payable": account_get_or_create(
            purpose=AccountPurpose.RIGHTS_HOLDER_PAYABLE, currency="JPY", owner_type=OwnerType.RIGHTS_HOLDER,
            owner_id=holder,
        ),
        "commission": account_get_or_create(purpose=AccountPurpose.COMMISSION_INCOME, currency="JPY"),
        "bank_usd": account_get_or_create(purpose=AccountPurpose.BANK, currency="USD"),
        "payable_usd": account_get_or_create(
            purpose=AccountPurpose.RIGHTS_HOLDER_PAYABLE, currency="USD", owner_type=OwnerType.RIGHTS_HOLDER,
            owner_id=holder,
        ),
    }  # fmt: skip
