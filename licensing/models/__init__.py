from .agreements import Agreement, Licensee, Term
from .catalogue import Reservation, RightsHolder, RightsHolderMember, Share, Work, WorkIdentifier
from .keys import ApiKey
from .usage import PeriodStatus, ReportingPeriod, ReportStatus, UsageEvent, UsageReport, UsageReportPayload

__all__ = [
    "Agreement",
    "ApiKey",
    "Licensee",
    "PeriodStatus",
    "ReportStatus",
    "ReportingPeriod",
    "Reservation",
    "RightsHolder",
    "RightsHolderMember",
    "Share",
    "Term",
    "UsageEvent",
    "UsageReport",
    "UsageReportPayload",
    "Work",
    "WorkIdentifier",
]
