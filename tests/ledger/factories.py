import uuid

import factory

from ledger.choices import AccountKind, AccountPurpose, OwnerType
from ledger.models import Account


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    code = factory.Sequence(lambda n: f"test:account:{n}")
    name = factory.Sequence(lambda n: f"Test account {n}")
    kind = AccountKind.ASSET
    purpose = AccountPurpose.OTHER
    currency = "JPY"
    owner_type = OwnerType.RIGHTS_HOLDER
    owner_id = factory.LazyFunction(uuid.uuid4)
