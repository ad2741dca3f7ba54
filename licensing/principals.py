"""Who is calling: platform staff, a rights holder's user, or a licensee (an AI company, through its API key)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from django.contrib.auth.models import AnonymousUser


@dataclass(eq=False)
class LicenseePrincipal:
    """`request.user` for a licensee's API key: authenticated, never staff, no Django permissions."""

    licensee: object  # licensing.models.Licensee
    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def get_username(self) -> str:
        return f"licensee:{self.licensee.name}"

    def has_perm(self, perm: str, obj=None) -> bool:
        return False

    def has_perms(self, perms, obj=None) -> bool:
        return False

    def __str__(self) -> str:
        return self.get_username()


PLATFORM_STAFF = "licensing.platform_staff"


class Access:
    """What the caller may see: everything (staff), some rights holders' world, or a licensee's."""

    def __init__(self, user) -> None:
        self.user = user or AnonymousUser()

    @property
    def licensee(self):
        return self.user.licensee if isinstance(self.user, LicenseePrincipal) else None

    @property
    def is_licensee(self) -> bool:
        return isinstance(self.user, LicenseePrincipal)

    @cached_property
    def is_staff(self) -> bool:
        """Platform staff (the Staff and Finance groups, superusers). A rights holder's user also has Django's
        `is_staff` flag, to log in to the admin, but not this permission."""
        return bool(
            not self.is_licensee
            and self.user.is_authenticated
            and self.user.is_active
            and self.user.has_perm(PLATFORM_STAFF)
        )

    @cached_property
    def holder_ids(self) -> frozenset:
        """The rights holders this user acts for (empty for staff-only users and licensees)."""
        if self.is_licensee or not self.user.is_authenticated:
            return frozenset()
        from .models import RightsHolderMember

        return frozenset(RightsHolderMember.objects.filter(user=self.user).values_list("rights_holder_id", flat=True))

    @property
    def is_holder(self) -> bool:
        return not self.is_staff and bool(self.holder_ids)

    def can(self, perm: str) -> bool:
        return self.is_staff and self.user.has_perm(perm)
