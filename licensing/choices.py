from django.db import models
from django.utils.translation import gettext_lazy as _


class HolderKind(models.TextChoices):
    INDIVIDUAL = "individual", _("Individual")
    CORPORATION = "corporation", _("Corporation")


class AccountType(models.TextChoices):
    """Bank account types, with their Zengin codes (RULES.md: 1 ordinary, 2 current, 4 savings)."""

    ORDINARY = "ordinary", _("Ordinary (普通)")
    CURRENT = "current", _("Current (当座)")
    SAVINGS = "savings", _("Savings (貯蓄)")


ZENGIN_ACCOUNT_TYPE = {AccountType.ORDINARY: "1", AccountType.CURRENT: "2", AccountType.SAVINGS: "4"}


class WorkKind(models.TextChoices):
    MANGA_SERIES = "manga_series", _("Manga series")
    MANGA_VOLUME = "manga_volume", _("Manga volume")
    ANIME_SERIES = "anime_series", _("Anime series")
    ANIME_EPISODE = "anime_episode", _("Anime episode")
    ILLUSTRATION = "illustration", _("Illustration")
    CHARACTER = "character", _("Character")
    OTHER = "other", _("Other")


class Use(models.TextChoices):
    TRAINING = "training", _("Training")
    FINE_TUNING = "fine_tuning", _("Fine-tuning")
    GENERATION = "generation", _("Generation")
    RETRIEVAL = "retrieval", _("Retrieval")


class AgreementStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    TERMINATED = "terminated", _("Terminated")


class TermType(models.TextChoices):
    PER_UNIT = "per_unit", _("Per unit")
    PER_WORK = "per_work", _("Per work")
    REVENUE_SHARE = "revenue_share", _("Revenue share")
    FLAT_FEE = "flat_fee", _("Flat fee")
    MINIMUM_GUARANTEE = "minimum_guarantee", _("Minimum guarantee")
    ADVANCE = "advance", _("Advance")


class Every(models.TextChoices):
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")
    YEAR = "year", _("Year")
