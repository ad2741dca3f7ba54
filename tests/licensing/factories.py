"""Factories for the licensing app. Shares must sum to 100.00 at COMMIT (a deferred trigger): `work_with_shares`
creates a work and its shares together."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.db import transaction

from licensing.models import Licensee, RightsHolder, RightsHolderMember, Share, Work
from licensing.roles import RIGHTS_HOLDERS, role_group


class RightsHolderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RightsHolder

    name = factory.Sequence(lambda n: f"権利者{n}")
    name_kana = factory.Sequence(lambda n: f"ｹﾝﾘｼﾔ{n}")
    kind = "corporation"
    country = "JP"
    resident = True


class WorkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Work

    kind = "manga_volume"
    title = factory.Sequence(lambda n: f"作品{n}")
    title_en = factory.Sequence(lambda n: f"Work {n}")


class LicenseeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Licensee

    name = factory.Sequence(lambda n: f"AI Video Co {n}")
    country = "US"


def work_with_shares(*holders_and_shares: tuple[RightsHolder, str], **fields) -> Work:
    with transaction.atomic():
        work = WorkFactory(**fields)
        for holder, share in holders_and_shares:
            Share.objects.create(work=work, rights_holder=holder, share=Decimal(share))
    return work


def holder_user(holder: RightsHolder, username: str | None = None):
    """A login acting for `holder`: admin access (is_staff) in the Rights holders group, not platform staff."""
    user = get_user_model().objects.create_user(
        username or f"user-of-{holder.pk}", password="pw-holder-123", is_staff=True
    )
    user.groups.add(role_group(RIGHTS_HOLDERS))
    RightsHolderMember.objects.create(rights_holder=holder, user=user)
    return user
