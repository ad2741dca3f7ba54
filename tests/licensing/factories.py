"""Factories for the licensing app. Shares must sum to 100.00 at COMMIT (a deferred trigger): `work_with_shares`
creates a work and its shares together."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.db import transaction

from licensing.models import Agreement, Licensee, RightsHolder, RightsHolderMember, Share, Term, Work
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


def training_agreement(licensee: Licensee, reference: str, rate: str, **fields) -> Agreement:
    """An active JPY agreement on the whole catalogue, for training only, everywhere, from 2026-01-01, commission
    10 % (unless `fields` say otherwise), with one per_unit term of `rate` JPY a unit."""
    agreement = Agreement.objects.create(**{
        "licensee": licensee, "reference": reference, "currency": "JPY", "starts_on": "2026-01-01",
        "territories": ["*"], "uses": ["training"], "scope_catalogue": True, "status": "active",
        "commission": Decimal("10"), **fields,
    })  # fmt: skip
    Term.objects.create(agreement=agreement, type="per_unit", use="training", rate=Decimal(rate))
    return agreement


def holder_user(holder: RightsHolder, username: str | None = None):
    """A login acting for `holder`: admin access (is_staff) in the Rights holders group, not platform staff."""
    user = get_user_model().objects.create_user(
        username or f"user-of-{holder.pk}", password="pw-holder-123", is_staff=True
    )
    user.groups.add(role_group(RIGHTS_HOLDERS))
    RightsHolderMember.objects.create(rights_holder=holder, user=user)
    return user
