"""Rows → API dictionaries (API.md field names; money as {"amount", "currency"} objects)."""

from __future__ import annotations

from ledger.money import Money


def money(amount: int, currency: str) -> dict:
    return Money(amount, currency).as_dict()


def run(run) -> dict:
    return {
        "id": str(run.pk), "period": run.period.strftime("%Y-%m"), "status": run.status,
        "agreements_total": run.agreements_total, "agreements_done": run.agreements_done,
        "lines_written": run.lines_written, "step": run.step or None, "error": run.error or None,
        "unallocated": [money(amount, currency) for currency, amount in sorted(run.unallocated.items())],
        "created_at": run.created_at, "started_at": run.started_at, "finished_at": run.finished_at,
        "finalized_at": run.finalized_at,
    }  # fmt: skip


def statements(rows) -> list[dict]:
    out = []
    for s in rows:
        c = s.currency
        out.append({
            "id": str(s.pk), "rights_holder": str(s.rights_holder_id), "period": s.period.strftime("%Y-%m"),
            "currency": c, "status": s.status, "gross": money(s.gross, c), "commission": money(s.commission, c),
            "net_royalties": money(s.net_royalties, c), "consumption_tax": money(s.consumption_tax, c),
            "withholding_tax": money(s.withholding_tax, c), "carried_forward": money(s.carried_forward, c),
            "payable": money(s.payable, c), "carried_out": s.carried_out,
            "registration_number": s.registration_number or None,
            "paid_at": s.paid_at, "payout": str(s.payout_id) if s.payout_id else None,
            "lines": [
                {"licensee": str(line.licensee_id), "agreement": str(line.agreement_id), "work": str(line.work_id),
                 "use": line.use or None, "quantity": line.quantity, "basis": line.basis,
                 "gross": money(line.gross, c), "commission": money(line.commission, c), "net": money(line.net, c)}
                for line in s.lines.all()
            ],
        })  # fmt: skip
    return out


def invoices(rows) -> list[dict]:
    out = []
    for i in rows:
        c = i.currency
        out.append({
            "id": str(i.pk), "licensee": str(i.licensee_id), "agreement": str(i.agreement_id),
            "period": i.period.strftime("%Y-%m"), "currency": c, "status": i.status,
            "royalties": money(i.royalties, c), "advance_recouped": money(i.advance_recouped, c),
            "amount_due": money(i.amount_due, c),
            "lines": [{"basis": line.basis, "use": line.use or None, "quantity": line.quantity,
                       "amount": money(line.amount, c)} for line in i.lines.all()],
        })  # fmt: skip
    return out


def payout_item(item) -> dict:
    c = item.currency
    return {
        "id": str(item.pk), "statement": str(item.statement_id), "rights_holder": str(item.rights_holder_id),
        "period": item.statement.period.strftime("%Y-%m"), "status": item.status, "amount": money(item.amount, c),
        "withholding_tax": money(item.withholding_tax, c), "blocked_reason": item.blocked_reason or None,
        "paid_at": item.paid_at, "returned_on": item.returned_on, "returned_reason": item.returned_reason or None,
    }  # fmt: skip


def payout_batch(batch, *, items=None) -> dict:
    c = batch.currency
    out = {
        "id": str(batch.pk), "currency": c, "pay_date": batch.pay_date, "status": batch.status,
        "transfers": batch.transfers, "total": money(batch.total, c), "blocked": batch.blocked,
        "created_at": batch.created_at, "exported_at": batch.exported_at, "confirmed_at": batch.confirmed_at,
        "cancelled_at": batch.cancelled_at,
    }  # fmt: skip
    if items is not None:
        out["items"] = [payout_item(item) for item in items]
    return out
