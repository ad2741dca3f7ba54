from .agreements import Agreement, Licensee, Term
from .catalogue import Reservation, RightsHolder, RightsHolderMember, Share, Work, WorkIdentifier
from .keys import ApiKey

__all__ = [
    "Agreement",
    "ApiKey",
    "Licensee",
    "Reservation",
    "RightsHolder",
    "RightsHolderMember",
    "Share",
    "Term",
    "Work",
    "WorkIdentifier",
]
