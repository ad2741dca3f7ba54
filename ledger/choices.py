from django.db import models
from django.utils.translation import gettext_lazy as _


class AccountKind(models.TextChoices):
    """Debit-normal (asset, expense) or credit-normal (liability, income, equity)."""

    ASSET = "asset", _("Asset")
    LIABILITY = "liability", _("Liability")
    INCOME = "income", _("Income")
    EXPENSE = "expense", _("Expense")
    EQUITY = "equity", _("Equity")


DEBIT_NORMAL = {AccountKind.ASSET, AccountKind.EXPENSE}


class OwnerType(models.TextChoices):
    PLATFORM = "platform", _("Platform")
    RIGHTS_HOLDER = "rights_holder", _("Rights holder")
    LICENSEE = "licensee", _("Licensee")


class AccountPurpose(models.TextChoices):
    """The accounts of RULES.md (Ledger), per party and currency."""

    LICENSEE_RECEIVABLE = "licensee_receivable", _("Licensee receivable")
    LICENSEE_ADVANCE = "licensee_advance", _("Licensee advance")
    RIGHTS_HOLDER_PAYABLE = "rights_holder_payable", _("Rights holder payable")
    WITHHOLDING_TAX_ACCRUED = "withholding_tax_accrued", _("Withholding tax accrued (royalties not yet paid)")
    WITHHOLDING_TAX_PAYABLE = "withholding_tax_payable", _("Withholding tax payable")
    CONSUMPTION_TAX_RECEIVABLE = "consumption_tax_receivable", _("Consumption tax receivable")
    CONSUMPTION_TAX_PAYABLE = "consumption_tax_payable", _("Consumption tax payable")
    COMMISSION_INCOME = "commission_income", _("Commission income")
    ROYALTY_EXPENSE = "royalty_expense", _("Royalty clearing")
    BANK = "bank", _("Bank")
    OTHER = "other", _("Other")


PURPOSE_KIND = {
    AccountPurpose.LICENSEE_RECEIVABLE: AccountKind.ASSET,
    AccountPurpose.LICENSEE_ADVANCE: AccountKind.LIABILITY,
    AccountPurpose.RIGHTS_HOLDER_PAYABLE: AccountKind.LIABILITY,
    AccountPurpose.WITHHOLDING_TAX_ACCRUED: AccountKind.LIABILITY,
    AccountPurpose.WITHHOLDING_TAX_PAYABLE: AccountKind.LIABILITY,
    AccountPurpose.CONSUMPTION_TAX_RECEIVABLE: AccountKind.ASSET,
    AccountPurpose.CONSUMPTION_TAX_PAYABLE: AccountKind.LIABILITY,
    AccountPurpose.COMMISSION_INCOME: AccountKind.INCOME,
    AccountPurpose.ROYALTY_EXPENSE: AccountKind.EXPENSE,
    AccountPurpose.BANK: AccountKind.ASSET,
}
