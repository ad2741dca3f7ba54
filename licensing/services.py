"""Every write of the licensing app. Each service validates the domain rules (raising Django's ValidationError
with field names, which the API turns into problem+json and the admin into form errors) and leaves the last word
to PostgreSQL's own constraints."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework_api_key.crypto import KeyGenerator
from simple_history.utils import bulk_create_with_history

from ledger.money import Money, MoneyError, validate_currency

from .choices import AgreementStatus, HolderKind, TermType, Use, WorkKind
from .models import (
    Agreement,
    ApiKey,
    Licensee,
    Reservation,
    RightsHolder,
    Share,
    Term,
    Work,
    WorkIdentifier,
)
from .principals import Access
from .selectors import effective_shares, work_is_owned_by
from .validators import (
    normalize_isbn,
    normalize_iscc,
    validate_bank_branch,
    validate_country,
    validate_invoice_registration_number,
    validate_kana,
)

_key_generator = KeyGenerator(prefix_length=12, secret_key_length=40)
HUNDRED = Decimal("100.00")


# API keys ----------------------------------------------------------------------------------------------------------
@transaction.atomic
def api_key_create(
    *,
    name: str,
    user: AbstractBaseUser | None = None,
    licensee: Licensee | None = None,
    expires_at: dt.datetime | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and return it with its clear text, which is never stored and cannot be shown again."""
    if (user is None) == (licensee is None):
        raise ValueError("an API key belongs to exactly one user or one licensee")
    key, prefix, hashed_key = _key_generator.generate()
    api_key = ApiKey.objects.create(
        name=name, prefix=prefix, hashed_key=hashed_key, user=user, licensee=licensee, expires_at=expires_at
    )
    return api_key, key


def api_key_verify(key: str) -> ApiKey | None:
    """The usable key matching `key`, or None. Constant-time hash comparison."""
    prefix, dot, secret = key.partition(".")
    if not dot or not prefix or not secret or len(prefix) > 16:
        return None
    api_key = ApiKey.objects.select_related("user", "licensee").filter(prefix=prefix).first()
    if api_key is None or not api_key.is_usable:
        return None
    if not _key_generator.verify(key, api_key.hashed_key):
        return None
    return api_key


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


# helpers -----------------------------------------------------------------------------------------------------------
class Errors:
    """Collects field errors so one response lists every problem, not just the first."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(str(message))

    def capture(self, field: str, func, *args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for key, errors in exc.message_dict.items():
                    for message in errors:
                        self.add(f"{field}.{key}" if field else key, message)
            else:
                for message in exc.messages:
                    self.add(field, message)
        except MoneyError as exc:
            self.add(field, str(exc))
        return None

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)


def integrity_error(exc: IntegrityError) -> ValidationError:
    """Translate a constraint PostgreSQL enforced (a race past our checks) into a field error rather than a 500."""
    diag = getattr(exc.__cause__, "diag", None)
    text = f"{exc} {getattr(diag, 'constraint_name', '') or ''}"
    for marker, field, message in [
        ("isbn", "identifiers.isbn", _("Another work already has this ISBN.")),
        ("iscc", "identifiers.iscc", _("Another work already has this ISCC.")),
        ("workidentifier_unique", "identifiers.ext", _("Another work already has this identifier.")),
        ("invoice_registration_number", "invoice_registration_number", _("Another rights holder has this number.")),
        ("licensing_share_sum_100", "shares", _("Shares must sum to exactly 100.00.")),
        ("licensing_work_no_cycle", "parent", _("A work cannot be its own ancestor.")),
        ("agreement_version", "reference", _("This licensee already has an agreement with this reference.")),
        ("versions_disjoint", "starts_on", _("This version overlaps another version of the agreement.")),
        ("frozen", "terms", _("Statements exist for this agreement: change it with a new version.")),
    ]:
        if marker in text:
            return ValidationError({field: [message]})
    return ValidationError(_("The change conflicts with data stored meanwhile; please retry."))


# rights holders ----------------------------------------------------------------------------------------------------
HOLDER_FIELDS = {
    "name",
    "name_kana",
    "kind",
    "country",
    "resident",
    "invoice_registration_number",
    "bank_account",
    "minimum_payout",
    "email",
    "postal_code",
    "address",
}


def _apply_holder(holder: RightsHolder, data: dict[str, Any]) -> None:
    errors = Errors()
    if "name" in data:
        holder.name = (data["name"] or "").strip()
        if not holder.name:
            errors.add("name", _("A name is required."))
    if "name_kana" in data:
        holder.name_kana = errors.capture("name_kana", validate_kana, data["name_kana"] or "", max_length=200) or ""
    if "kind" in data:
        if data["kind"] not in HolderKind.values:
            errors.add("kind", _("Choose individual or corporation."))
        holder.kind = data["kind"]
    if "country" in data:
        holder.country = errors.capture("country", validate_country, data["country"]) or holder.country
    if "resident" in data:
        holder.resident = bool(data["resident"])
    if "invoice_registration_number" in data:
        number = data["invoice_registration_number"]
        holder.invoice_registration_number = (
            errors.capture("invoice_registration_number", validate_invoice_registration_number, number)
            if number
            else None
        )
    if "bank_account" in data:
        account = data["bank_account"]
        if account is None:
            holder.bank_code = holder.branch_code = holder.account_type = None
            holder.account_number = holder.account_holder_kana = None
        else:
            errors.capture("bank_account", validate_bank_branch, account.get("bank_code"), account.get("branch_code"))
            number = str(account.get("account_number") or "")
            if not number.isdigit() or not 1 <= len(number) <= 7:
                errors.add("bank_account.account_number", _("An account number is 1 to 7 digits."))
            if account.get("account_type") not in ("ordinary", "current", "savings"):
                errors.add("bank_account.account_type", _("Choose ordinary, current or savings."))
            kana = errors.capture(
                "bank_account.holder_kana", validate_kana, account.get("holder_kana") or "", max_length=30
            )
            holder.bank_code = account.get("bank_code")
            holder.branch_code = account.get("branch_code")
            holder.account_type = account.get("account_type")
            holder.account_number = number.zfill(7) if number.isdigit() else number
            holder.account_holder_kana = kana
    if "minimum_payout" in data:
        payout: Money = data["minimum_payout"]
        if payout.amount < 0:
            errors.add("minimum_payout", _("The minimum payout must not be negative."))
        holder.minimum_payout_amount, holder.minimum_payout_currency = payout.amount, payout.currency
    for field in ("email", "postal_code", "address"):
        if field in data:
            setattr(holder, field, data[field] or "")
    if holder.invoice_registration_number and holder.kind == HolderKind.INDIVIDUAL and not holder.resident:
        errors.add("invoice_registration_number", _("Only a business resident in Japan has an invoice number."))
    errors.raise_if_any()


@transaction.atomic
def rights_holder_create(*, data: dict[str, Any], members: Sequence[AbstractBaseUser] = ()) -> RightsHolder:
    holder = RightsHolder()
    required = Errors()
    for field in ("name", "name_kana", "kind"):
        if not data.get(field):
            required.add(field, _("This field is required."))
    required.raise_if_any()
    _apply_holder(holder, data)
    try:
        with transaction.atomic():
            holder.save()
    except IntegrityError as exc:
        raise integrity_error(exc) from exc
    for user in members:
        holder.members.add(user)
    return holder


@transaction.atomic
def rights_holder_update(*, holder: RightsHolder, data: dict[str, Any]) -> RightsHolder:
    holder = RightsHolder.objects.select_for_update().get(pk=holder.pk)
    _apply_holder(holder, data)
    try:
        with transaction.atomic():
            holder.save()
    except IntegrityError as exc:
        raise integrity_error(exc) from exc
    return holder


# works -------------------------------------------------------------------------------------------------------------
def _validate_shares(shares: Sequence[dict], errors: Errors) -> None:
    seen = set()
    total = Decimal(0)
    for index, item in enumerate(shares):
        share = item["share"]
        holder = item["rights_holder"]
        if holder.pk in seen:
            errors.add(f"shares[{index}].rights_holder", _("This rights holder is listed twice."))
        seen.add(holder.pk)
        if share <= 0 or share > HUNDRED or share != share.quantize(Decimal("0.01")):
            errors.add(f"shares[{index}].share", _("A share is a percentage above 0 and at most 100, two decimals."))
        total += share
    if shares and total != HUNDRED:
        errors.add("shares", _("Shares must sum to exactly 100.00, not %(total)s.") % {"total": total})


def _identifiers(work: Work, identifiers: dict, errors: Errors) -> list[tuple[str, str]] | None:
    if "isbn" in identifiers:
        isbn = identifiers["isbn"]
        work.isbn = errors.capture("identifiers.isbn", normalize_isbn, isbn) if isbn else None
        if work.isbn and Work.objects.filter(isbn=work.isbn).exclude(pk=work.pk).exists():
            errors.add("identifiers.isbn", _("Another work already has this ISBN."))
    if "iscc" in identifiers:
        iscc = identifiers["iscc"]
        work.iscc = errors.capture("identifiers.iscc", normalize_iscc, iscc) if iscc else None
        if work.iscc and Work.objects.filter(iscc=work.iscc).exclude(pk=work.pk).exists():
            errors.add("identifiers.iscc", _("Another work already has this ISCC."))
    if "ext" not in identifiers:
        return None
    pairs = []
    for index, item in enumerate(identifiers["ext"] or []):
        scheme, value = (item.get("scheme") or "").strip().lower(), (item.get("value") or "").strip()
        if not value or len(value) > 200 or not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,49}", scheme, re.ASCII):
            errors.add(f"identifiers.ext[{index}]", _("A scheme (letters, digits, . _ -) and a value are required."))
            continue
        if (scheme, value) in pairs:
            errors.add(f"identifiers.ext[{index}]", _("This identifier is listed twice."))
        elif WorkIdentifier.objects.filter(scheme=scheme, value=value).exclude(work_id=work.pk).exists():
            errors.add(f"identifiers.ext[{index}]", _("Another work already has this identifier."))
        pairs.append((scheme, value))
    return pairs


def _check_parent(work: Work, parent: Work | None, access: Access, errors: Errors) -> None:
    if parent is None:
        return
    if work.pk and parent.pk == work.pk:
        errors.add("parent", _("A work cannot be its own parent."))
    elif access.is_holder and not work_is_owned_by(work=parent, holder_ids=access.holder_ids):
        errors.add("parent", _("Unknown parent work."))


def _save_work(work: Work, shares: Sequence[dict] | None, ext: list[tuple[str, str]] | None) -> None:
    try:
        with transaction.atomic():
            work.save()
            if shares is not None:
                work.shares.all().delete()
                bulk_create_with_history(
                    [Share(work=work, rights_holder=item["rights_holder"], share=item["share"]) for item in shares],
                    Share,
                )
            if ext is not None:
                work.external_ids.all().delete()
                bulk_create_with_history([WorkIdentifier(work=work, scheme=s, value=v) for s, v in ext], WorkIdentifier)
    except IntegrityError as exc:
        raise integrity_error(exc) from exc


def _check_holder_keeps_work(work: Work, access: Access, errors: Errors) -> None:
    if access.is_holder and not work_is_owned_by(work=work, holder_ids=access.holder_ids):
        errors.add("shares", _("Your own rights holder must keep a share of the work (or of its parent)."))


@transaction.atomic
def work_create(*, access: Access, data: dict[str, Any]) -> Work:
    errors = Errors()
    work = Work(kind=data.get("kind"), title=(data.get("title") or "").strip(), title_en=data.get("title_en") or "")
    if not work.title:
        errors.add("title", _("A title is required."))
    if work.kind not in WorkKind.values:
        errors.add("kind", _("Choose one of: %(kinds)s.") % {"kinds": ", ".join(WorkKind.values)})
    parent = data.get("parent")
    work.parent = parent
    _check_parent(work, parent, access, errors)
    shares = data.get("shares") or []
    _validate_shares(shares, errors)
    if not shares and parent is None:
        errors.add("shares", _("A work without a parent needs shares summing to 100.00."))
    ext = _identifiers(work, data.get("identifiers") or {}, errors)
    if access.is_holder:
        holders = {item["rights_holder"].pk for item in shares}
        inherits = not shares and parent is not None
        if not (holders & access.holder_ids) and not inherits:
            errors.add("shares", _("Your own rights holder must have a share of the work."))
    errors.raise_if_any()
    _save_work(work, shares, ext)
    return work


def co_owners_changed(*, work: Work, new_shares: dict, access: Access) -> bool:
    """True when a rights holder's user would change or drop another holder's share (own or inherited) of `work`.
    Co-owners (a production committee) settle their split with the platform, not by one member's edit."""
    if not access.is_holder or work.pk is None:
        return False
    before = {holder: share for holder, share, _owner in effective_shares([work.pk]).get(work.pk, [])}
    return any(holder not in access.holder_ids and new_shares.get(holder) != share for holder, share in before.items())


@transaction.atomic
def work_update(*, access: Access, work: Work, data: dict[str, Any]) -> Work:
    work = Work.objects.select_for_update().get(pk=work.pk)
    errors = Errors()
    for field in ("title", "title_en", "kind"):
        if field in data:
            setattr(work, field, (data[field] or "").strip() if field != "kind" else data[field])
    if "title" in data and not work.title:
        errors.add("title", _("A title is required."))
    if "kind" in data and work.kind not in WorkKind.values:
        errors.add("kind", _("Choose one of: %(kinds)s.") % {"kinds": ", ".join(WorkKind.values)})
    if "parent" in data:
        work.parent = data["parent"]
        _check_parent(work, work.parent, access, errors)
    shares = data.get("shares") if "shares" in data else None
    if shares is not None:
        _validate_shares(shares, errors)
        new_shares = {item["rights_holder"].pk: item["share"] for item in shares}
        if co_owners_changed(work=work, new_shares=new_shares, access=access):
            errors.add("shares", _("Only platform staff can change or remove another rights holder's share."))
    has_shares = bool(shares) if shares is not None else work.shares.exists()
    if not has_shares and work.parent is None:
        errors.add("shares", _("A work without a parent needs shares summing to 100.00."))
    ext = _identifiers(work, data.get("identifiers") or {}, errors)
    errors.raise_if_any()
    _save_work(work, shares, ext)
    owner_check = Errors()
    _check_holder_keeps_work(work, access, owner_check)
    owner_check.raise_if_any()  # rolls the whole update back
    return work


# reservations ------------------------------------------------------------------------------------------------------
@transaction.atomic
def reservation_create(*, rights_holder: RightsHolder, work: Work | None, uses: Sequence[str]) -> Reservation:
    errors = Errors()
    uses = list(dict.fromkeys(uses))
    if not uses:
        errors.add("uses", _("Reserve at least one use."))
    for use in uses:
        if use not in Use.values:
            errors.add("uses", _("%(use)s is not a use.") % {"use": use})
    if work is not None and not work_is_owned_by(work=work, holder_ids=[rights_holder.pk]):
        errors.add("work", _("This rights holder has no share of that work."))
    errors.raise_if_any()
    return Reservation.objects.create(rights_holder=rights_holder, work=work, uses=uses)


def reservation_lift(*, reservation: Reservation) -> Reservation:
    if reservation.lifted_at is None:
        reservation.lifted_at = timezone.now()
        reservation.save(update_fields=["lifted_at"])
    return reservation


# licensees ---------------------------------------------------------------------------------------------------------
@transaction.atomic
def licensee_create(*, name: str, country: str, email: str = "", address: str = "") -> Licensee:
    errors = Errors()
    if not (name or "").strip():
        errors.add("name", _("A name is required."))
    country = errors.capture("country", validate_country, country)
    errors.raise_if_any()
    return Licensee.objects.create(name=name.strip(), country=country, email=email or "", address=address or "")


# agreements --------------------------------------------------------------------------------------------------------
AGREEMENT_TERMS_FIELDS = {"currency", "starts_on", "territories", "uses", "scope", "commission", "terms"}

_STATUS_MOVES = {
    AgreementStatus.DRAFT: {AgreementStatus.ACTIVE, AgreementStatus.TERMINATED},
    AgreementStatus.ACTIVE: {AgreementStatus.SUSPENDED, AgreementStatus.TERMINATED},
    AgreementStatus.SUSPENDED: {AgreementStatus.ACTIVE, AgreementStatus.TERMINATED},
    AgreementStatus.TERMINATED: set(),
}


def _decimal_places(value: Decimal) -> int:
    return max(0, -value.as_tuple().exponent)


def validate_terms(terms: Sequence[dict], currency: str, uses: Sequence[str], errors: Errors) -> list[Term]:
    built: list[Term] = []
    counts: dict[str, int] = {}
    for index, item in enumerate(terms):
        where = f"terms[{index}]"
        kind = item.get("type")
        if kind not in TermType.values:
            errors.add(f"{where}.type", _("Unknown term type."))
            continue
        counts[kind] = counts.get(kind, 0) + 1
        term = Term(type=kind, position=index)
        if kind in (TermType.PER_UNIT, TermType.PER_WORK, TermType.REVENUE_SHARE):
            term.use = item.get("use")
            if term.use not in Use.values:
                errors.add(f"{where}.use", _("A use is required for this term."))
            elif term.use not in uses:
                errors.add(f"{where}.use", _("The agreement does not license this use."))
        if kind == TermType.PER_UNIT:
            rate = item.get("rate")
            if rate is None or rate < 0 or _decimal_places(rate) > 6:
                errors.add(f"{where}.rate", _("A rate of 0 or more, with at most 6 decimals, is required."))
            term.rate = rate
        if kind == TermType.REVENUE_SHARE:
            percent = item.get("percent")
            if percent is None or not 0 < percent <= 100 or _decimal_places(percent) > 6:
                errors.add(f"{where}.percent", _("A percentage above 0 and at most 100 is required."))
            term.percent = percent
        money_field = {
            TermType.PER_WORK: "fee",
            TermType.FLAT_FEE: "fee",
            TermType.MINIMUM_GUARANTEE: "amount",
            TermType.ADVANCE: "amount",
        }.get(kind)
        if money_field:
            money: Money | None = item.get(money_field)
            if money is None or money.amount <= 0:
                errors.add(f"{where}.{money_field}", _("A positive amount is required."))
            elif money.currency != currency:
                errors.add(
                    f"{where}.{money_field}",
                    _("Amounts must be in the agreement's currency, %(currency)s.") % {"currency": currency},
                )
            else:
                term.amount = money.amount
        if kind in (TermType.FLAT_FEE, TermType.MINIMUM_GUARANTEE):
            term.every = item.get("every")
            if term.every not in ("month", "quarter", "year"):
                errors.add(f"{where}.every", _("Choose month, quarter or year."))
        built.append(term)
    for kind in (TermType.ADVANCE, TermType.MINIMUM_GUARANTEE):
        if counts.get(kind, 0) > 1:
            errors.add("terms", _("At most one %(type)s term.") % {"type": kind})
    return built


def _apply_agreement(agreement: Agreement, data: dict[str, Any], errors: Errors) -> tuple[list[Term] | None, dict]:
    if "licensee" in data:
        agreement.licensee = data["licensee"]
    if "reference" in data:
        agreement.reference = (data["reference"] or "").strip()
        if not agreement.reference:
            errors.add("reference", _("A reference is required."))
    if "currency" in data:
        agreement.currency = errors.capture("currency", validate_currency, data["currency"]) or data["currency"]
    for field in ("starts_on", "ends_on"):
        if field in data:
            setattr(agreement, field, data[field])
    if agreement.ends_on and agreement.starts_on and agreement.ends_on < agreement.starts_on:
        errors.add("ends_on", _("The end date is before the start date."))
    if "territories" in data:
        territories = [errors.capture("territories", validate_country, t, allow_any=True) for t in data["territories"]]
        territories = list(dict.fromkeys(t for t in territories if t))
        if not territories:
            errors.add("territories", _('List at least one territory, or "*".'))
        elif "*" in territories and len(territories) > 1:
            errors.add("territories", _('"*" already covers every territory.'))
        agreement.territories = territories
    if "uses" in data:
        uses = list(dict.fromkeys(data["uses"] or []))
        if not uses or any(use not in Use.values for use in uses):
            errors.add("uses", _("List one or more of: training, fine_tuning, generation, retrieval."))
        agreement.uses = uses
    if "commission" in data:
        commission = data["commission"]
        if commission is None or not 0 <= commission <= 100 or _decimal_places(commission) > 2:
            errors.add("commission", _("A commission from 0.00 to 100.00 is required."))
        agreement.commission = commission
    scope = {}
    if "scope" in data:
        scope = data["scope"] or {}
        agreement.scope_catalogue = bool(scope.get("catalogue"))
        if not agreement.scope_catalogue and not scope.get("works") and not scope.get("rights_holders"):
            errors.add("scope", _("The scope is empty: give works, rights holders or the whole catalogue."))
    if "status" in data:
        agreement.status = data["status"]
    terms = None
    if "terms" in data:
        terms = validate_terms(data["terms"] or [], agreement.currency, agreement.uses or [], errors)
    return terms, scope


def _save_agreement(agreement: Agreement, terms: list[Term] | None, scope: dict) -> None:
    try:
        with transaction.atomic():
            agreement.save()
            if scope:
                agreement.scope_works.set(scope.get("works") or [])
                agreement.scope_rights_holders.set(scope.get("rights_holders") or [])
            if terms is not None:
                agreement.terms.all().delete()
                for term in terms:
                    term.agreement = agreement
                bulk_create_with_history(terms, Term)
    except IntegrityError as exc:
        raise integrity_error(exc) from exc


@transaction.atomic
def agreement_create(*, data: dict[str, Any]) -> Agreement:
    errors = Errors()
    for field in ("licensee", "reference", "currency", "starts_on", "territories", "uses", "scope"):
        if data.get(field) in (None, "", []):
            errors.add(field, _("This field is required."))
    errors.raise_if_any()
    agreement = Agreement(status=data.get("status") or AgreementStatus.DRAFT, commission=Decimal(0))
    if agreement.status not in AgreementStatus.values:
        errors.add("status", _("Unknown status."))
    terms, scope = _apply_agreement(agreement, data, errors)
    if Agreement.objects.filter(licensee=agreement.licensee, reference=agreement.reference).exists():
        errors.add("reference", _("This licensee already has an agreement with this reference."))
    errors.raise_if_any()
    _save_agreement(agreement, terms or [], scope)
    return agreement


@transaction.atomic
def agreement_update(*, agreement: Agreement, data: dict[str, Any], effective_from: dt.date | None = None) -> Agreement:
    """Change an agreement. Terms, scope, uses, territories, currency or commission of a frozen version (statements
    exist) are changed only by a new version from `effective_from`; the current one then ends the day before."""
    agreement = Agreement.objects.select_for_update().get(pk=agreement.pk)
    errors = Errors()
    if "status" in data and data["status"] != agreement.status:
        if data["status"] not in AgreementStatus.values:
            errors.add("status", _("Unknown status."))
        elif data["status"] not in _STATUS_MOVES[AgreementStatus(agreement.status)]:
            errors.add(
                "status",
                _("An agreement cannot go from %(old)s to %(new)s.") % {"old": agreement.status, "new": data["status"]},
            )
    for field in ("licensee", "reference"):
        if field in data and data[field] != getattr(agreement, field):
            errors.add(field, _("This cannot change; create another agreement."))
    changes_terms = bool(AGREEMENT_TERMS_FIELDS & set(data))
    if effective_from is None and changes_terms and agreement.frozen:
        errors.add(
            "effective_from",
            _("Statements exist for this agreement: give effective_from to start a new version with these terms."),
        )
    errors.raise_if_any()
    if terminates_running(agreement, data):
        # it ran until today: its fixed terms (flat fees, guarantees) are owed for the months until then, not after
        data = {**data, "ends_on": timezone.localdate()}
    if effective_from is not None:
        return _agreement_new_version(agreement, data, effective_from)
    if ({"currency", "uses"} & set(data)) and "terms" not in data:
        # the stored terms must still hold in the new currency and uses: check them again, as if sent
        data = {**data, "terms": [_term_as_input(term, agreement.currency) for term in agreement.terms.all()]}
    terms, scope = _apply_agreement(agreement, data, errors)
    errors.raise_if_any()
    _save_agreement(agreement, terms, scope)
    return agreement


def terminates_running(agreement: Agreement, data: dict[str, Any]) -> bool:
    """A termination of an agreement that has run (active or suspended, started by today, not ended), without an
    end date given: it ends today. A draft, or one not started yet, never ran: no end date, and nothing billed."""
    today = timezone.localdate()
    return (
        data.get("status") == AgreementStatus.TERMINATED
        and agreement.status in (AgreementStatus.ACTIVE, AgreementStatus.SUSPENDED)
        and "ends_on" not in data
        and agreement.starts_on <= today
        and (agreement.ends_on is None or agreement.ends_on > today)
    )


def _agreement_new_version(old: Agreement, data: dict[str, Any], effective_from: dt.date) -> Agreement:
    errors = Errors()
    if effective_from <= old.starts_on:
        errors.add("effective_from", _("A new version starts after the current one does."))
    if old.ends_on and effective_from > old.ends_on:
        errors.add("effective_from", _("The current version has already ended by then."))
    if hasattr(old, "superseded_by"):
        errors.add("effective_from", _("This version was already superseded."))
    errors.raise_if_any()
    new = Agreement(
        licensee=old.licensee,
        reference=old.reference,
        version=old.version + 1,
        supersedes=old,
        currency=old.currency,
        starts_on=effective_from,
        ends_on=old.ends_on,
        territories=list(old.territories),
        uses=list(old.uses),
        scope_catalogue=old.scope_catalogue,
        commission=old.commission,
        status=old.status,
    )
    merged = {key: value for key, value in data.items() if key != "starts_on"}
    if "scope" not in merged:
        merged["scope"] = {
            "catalogue": old.scope_catalogue,
            "works": list(old.scope_works.all()),
            "rights_holders": list(old.scope_rights_holders.all()),
        }
    if "terms" not in merged:
        merged["terms"] = [_term_as_input(term, old.currency) for term in old.terms.all()]
    terms, scope = _apply_agreement(new, merged, errors)
    errors.raise_if_any()
    old.ends_on = effective_from - dt.timedelta(days=1)
    try:
        with transaction.atomic():
            old.save(update_fields=["ends_on", "updated_at"])
    except IntegrityError as exc:
        raise integrity_error(exc) from exc
    _save_agreement(new, terms, scope)
    return new


def _term_as_input(term: Term, currency: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": term.type,
        "use": term.use,
        "rate": term.rate,
        "percent": term.percent,
        "every": term.every,
    }
    if term.amount is not None:
        key = "fee" if term.type in (TermType.PER_WORK, TermType.FLAT_FEE) else "amount"
        item[key] = Money(term.amount, currency)
    return item
