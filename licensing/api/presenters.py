"""Objects → API dicts, a page at a time (a fixed number of queries per page, whatever its size)."""

from __future__ import annotations

from collections import defaultdict

from ledger.money import Money

from ..choices import TermType
from ..models import Agreement, RightsHolder, Term, Work
from ..selectors import work_details
from ..validators import bank_names


def rights_holder(holder: RightsHolder, *, full: bool) -> dict:
    data = {
        "id": holder.id,
        "name": holder.name,
        "name_kana": holder.name_kana,
        "kind": holder.kind,
        "country": holder.country,
    }
    if not full:
        return data
    bank = None
    if holder.has_bank_account:
        bank_name, branch_name = bank_names(holder.bank_code, holder.branch_code)
        bank = {
            "bank_code": holder.bank_code,
            "branch_code": holder.branch_code,
            "account_type": holder.account_type,
            "account_number": holder.account_number,
            "holder_kana": holder.account_holder_kana,
            "bank_name": bank_name,
            "branch_name": branch_name,
        }
    return data | {
        "resident": holder.resident,
        "invoice_registration_number": holder.invoice_registration_number,
        "bank_account": bank,
        "minimum_payout": Money(holder.minimum_payout_amount, holder.minimum_payout_currency).as_dict(),
        "email": holder.email,
        "postal_code": holder.postal_code,
        "address": holder.address,
        "created_at": holder.created_at,
        "updated_at": holder.updated_at,
    }


def works(page: list[Work]) -> list[dict]:
    details = work_details(page)
    return [
        {
            "id": work.id,
            "title": work.title,
            "title_en": work.title_en,
            "kind": work.kind,
            "parent": work.parent_id,
            "identifiers": {"isbn": work.isbn, "iscc": work.iscc, "ext": details["external"].get(work.id, [])},
            "shares": [
                {"rights_holder": holder_id, "share": f"{share:.2f}", "inherited": owner != work.id}
                for holder_id, share, owner in details["shares"].get(work.id, [])
            ],
            "reserved": work.id in details["reserved"],
            "created_at": work.created_at,
            "updated_at": work.updated_at,
        }
        for work in page
    ]


def _term(term: Term, currency: str) -> dict:
    money = Money(term.amount, currency).as_dict() if term.amount is not None else None
    fee_types = (TermType.PER_WORK, TermType.FLAT_FEE)
    return {
        "id": term.id,
        "type": term.type,
        "use": term.use,
        "rate": f"{term.rate.normalize():f}" if term.rate is not None else None,
        "percent": f"{term.percent.normalize():f}" if term.percent is not None else None,
        "fee": money if term.type in fee_types else None,
        "amount": money if term.type not in fee_types else None,
        "every": term.every,
    }


def agreements(page: list[Agreement]) -> list[dict]:
    ids = [agreement.pk for agreement in page]
    terms: dict = defaultdict(list)
    for term in Term.objects.filter(agreement_id__in=ids).order_by("agreement_id", "position"):
        terms[term.agreement_id].append(term)
    works: dict = defaultdict(list)
    for agreement_id, work_id in Agreement.scope_works.through.objects.filter(agreement_id__in=ids).values_list(
        "agreement_id", "work_id"
    ):
        works[agreement_id].append(work_id)
    holders: dict = defaultdict(list)
    for agreement_id, holder_id in Agreement.scope_rights_holders.through.objects.filter(
        agreement_id__in=ids
    ).values_list("agreement_id", "rightsholder_id"):
        holders[agreement_id].append(holder_id)
    return [
        {
            "id": a.id,
            "licensee": a.licensee_id,
            "reference": a.reference,
            "version": a.version,
            "supersedes": a.supersedes_id,
            "currency": a.currency,
            "starts_on": a.starts_on,
            "ends_on": a.ends_on,
            "territories": a.territories,
            "uses": a.uses,
            "scope": {"catalogue": a.scope_catalogue, "works": works[a.id], "rights_holders": holders[a.id]},
            "commission": f"{a.commission:.2f}",
            "terms": [_term(term, a.currency) for term in terms[a.id]],
            "status": a.status,
            "frozen": a.frozen,
            "created_at": a.created_at,
            "updated_at": a.updated_at,
        }
        for a in page
    ]
