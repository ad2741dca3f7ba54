"""Every write to the ledger. Posting takes the chain-head row lock, so posts are serialised and the hash chain
stays a single line whatever runs concurrently; the lock is held until the surrounding database transaction ends."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .chain import canonical, chain_hash
from .choices import PURPOSE_KIND, AccountKind, AccountPurpose, OwnerType
from .exceptions import IdempotencyConflict, LedgerError
from .models import GENESIS_HASH, Account, JournalTransaction, Posting
from .money import Money, validate_currency

MAX_KEY_LENGTH = 200
MAX_MEMO_LENGTH = 500


@dataclass(frozen=True, slots=True)
class Leg:
    account: Account
    amount: Money


@dataclass(frozen=True)
class Entry:
    """One journal transaction to post."""

    idempotency_key: str
    legs: Sequence[Leg | tuple[Account, Money]]
    memo: str = ""
    effective_date: date | None = None
    cause_type: str = ""
    cause_id: str = ""
    reverses_id: int | None = None
    _legs: tuple[tuple[int, str, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        legs = tuple(leg if isinstance(leg, Leg) else Leg(*leg) for leg in self.legs)
        _validate(self, legs)
        object.__setattr__(
            self, "_legs", tuple((leg.account.pk, leg.amount.currency, leg.amount.amount) for leg in legs)
        )

    @property
    def leg_key(self) -> tuple[tuple[int, str, int], ...]:
        return _sorted_legs(self._legs)


def _validate(entry: Entry, legs: Sequence[Leg]) -> None:
    key = entry.idempotency_key
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise LedgerError(_("An idempotency key of 1 to %(n)d characters is required.") % {"n": MAX_KEY_LENGTH})
    if len(entry.memo) > MAX_MEMO_LENGTH:
        raise LedgerError(_("The memo is longer than %(n)d characters.") % {"n": MAX_MEMO_LENGTH})
    if len(entry.cause_type) > 40 or len(entry.cause_id) > 64:
        raise LedgerError(_("The cause reference is too long."))
    if len(legs) < 2:
        raise LedgerError(_("A journal transaction needs at least two postings."))
    totals: dict[str, int] = defaultdict(int)
    for leg in legs:
        if leg.account.pk is None:
            raise LedgerError(_("Posting to an account that is not saved."))
        if leg.amount.amount == 0:
            raise LedgerError(_("A posting amount must not be zero."))
        if leg.amount.currency != leg.account.currency:
            raise LedgerError(
                _("Account %(code)s is kept in %(account)s, not %(amount)s.")
                % {"code": leg.account.code, "account": leg.account.currency, "amount": leg.amount.currency}
            )
        totals[leg.amount.currency] += leg.amount.amount
    unbalanced = {currency: total for currency, total in totals.items() if total}
    if unbalanced:
        raise LedgerError(
            _("The postings do not balance: %(detail)s.")
            % {
                "detail": ", ".join(
                    f"{Money(total, cur).to_string()} {cur}" for cur, total in sorted(unbalanced.items())
                )
            }
        )


def account_get_or_create(
    *,
    purpose: AccountPurpose | str,
    currency: str,
    owner_type: OwnerType | str = OwnerType.PLATFORM,
    owner_id=None,
    name: str = "",
    kind: AccountKind | str | None = None,
) -> Account:
    """The one account of an owner for a purpose and currency (RULES.md, Ledger)."""
    validate_currency(currency)
    purpose = AccountPurpose(purpose)
    owner_type = OwnerType(owner_type)
    kind = AccountKind(kind) if kind else PURPOSE_KIND.get(purpose)
    if kind is None:
        raise LedgerError(_("An account of purpose 'other' needs an explicit kind."))
    owner = "platform" if owner_type == OwnerType.PLATFORM else f"{owner_type}:{owner_id}"
    code = f"{owner}:{purpose}:{currency}"
    account, _created = Account.objects.get_or_create(
        owner_type=owner_type,
        owner_id=owner_id,
        purpose=purpose,
        currency=currency,
        defaults={"code": code, "name": name or f"{purpose.label} ({currency})", "kind": kind},
    )
    return account


def accounts_get_or_create_bulk(
    *, purpose: AccountPurpose | str, currency: str, owner_type: OwnerType | str, owner_ids: Iterable
) -> dict:
    """The accounts of many owners for one purpose and currency, those missing created together: owner id →
    Account, in three queries however many owners (a statement run's or a payout batch's holders)."""
    validate_currency(currency)
    purpose, owner_type = AccountPurpose(purpose), OwnerType(owner_type)
    kind = PURPOSE_KIND.get(purpose)
    if kind is None or owner_type == OwnerType.PLATFORM:
        raise LedgerError(_("Bulk accounts are for parties' accounts of a known purpose."))
    wanted = set(owner_ids)
    query = Account.objects.filter(owner_type=owner_type, purpose=purpose, currency=currency, owner_id__in=wanted)
    found = {account.owner_id: account for account in query}
    missing = wanted - set(found)
    if missing:
        Account.objects.bulk_create(
            [Account(owner_type=owner_type, owner_id=owner_id, purpose=purpose, currency=currency, kind=kind,
                     code=f"{owner_type}:{owner_id}:{purpose}:{currency}", name=f"{purpose.label} ({currency})")
             for owner_id in missing],
            ignore_conflicts=True,  # another transaction created some meanwhile: read them back below
        )  # fmt: skip
        found.update({account.owner_id: account for account in query.filter(owner_id__in=missing)})
    return found


def _lock_chain_head(keys: list[str]) -> tuple[int, str, dict[str, int]]:
    """Lock the chain head, then find which of `keys` are already posted. Two statements on purpose: the key check
    must see what the previous holder of the lock committed, so it needs a snapshot taken after the lock."""
    with connection.cursor() as cursor:
        cursor.execute(_HEAD, [])
        row = cursor.fetchone()
        if row is None:
            # An emptied database (a test flush): start the chain again, but only over an empty journal;
            # otherwise the first post collides with an existing id and fails.
            cursor.execute(
                "INSERT INTO ledger_chainhead (id, last_id, last_hash) "
                "SELECT 1, 0, %s WHERE NOT EXISTS (SELECT 1 FROM ledger_journaltransaction) "
                "ON CONFLICT (id) DO NOTHING",
                [GENESIS_HASH],
            )
            cursor.execute(_HEAD, [])
            row = cursor.fetchone()
        if row is None:
            raise LedgerError("the ledger chain head is missing while journal transactions exist")
        cursor.execute(
            "SELECT idempotency_key, id FROM ledger_journaltransaction WHERE idempotency_key = ANY(%s)", [keys]
        )
        known = dict(cursor.fetchall())
    last_id, last_hash = row
    return last_id, last_hash, known


_HEAD = "SELECT last_id, last_hash FROM ledger_chainhead WHERE id = 1 FOR UPDATE"


def _existing_legs(ids: Iterable[int]) -> dict[int, tuple[tuple[tuple[int, str, int], ...], str, str]]:
    """Legs and cause of already-posted transactions, for the idempotency conflict check (replays only)."""
    found = {}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.id, t.cause_type, t.cause_id, array_agg(ARRAY[p.account_id, p.amount] ORDER BY p.id),
                   array_agg(p.currency ORDER BY p.id)
              FROM ledger_journaltransaction t JOIN ledger_posting p ON p.transaction_id = t.id
             WHERE t.id = ANY(%s)
             GROUP BY t.id
            """,
            [list(ids)],
        )
        for txn_id, cause_type, cause_id, legs, currencies in cursor.fetchall():
            key = _sorted_legs((int(a), c, int(m)) for (a, m), c in zip(legs, currencies, strict=True))
            found[txn_id] = (key, cause_type, cause_id)
    return found


def _sorted_legs(legs: Iterable[tuple[int, str, int]]) -> tuple[tuple[int, str, int], ...]:
    return tuple(sorted(legs, key=lambda leg: (leg[0], leg[2], leg[1])))


def _conflict(key: str) -> IdempotencyConflict:
    return IdempotencyConflict(
        _("The idempotency key %(key)s was already used for a different journal transaction.") % {"key": key}
    )


def _same(entry: Entry, legs: tuple, cause_type: str, cause_id: str) -> bool:
    return legs == entry.leg_key and (cause_type, cause_id) == (entry.cause_type, entry.cause_id)


@transaction.atomic
def journal_post(
    *,
    legs: Sequence[Leg | tuple[Account, Money]],
    idempotency_key: str,
    memo: str = "",
    effective_date: date | None = None,
    cause_type: str = "",
    cause_id: str = "",
    reverses: JournalTransaction | None = None,
) -> JournalTransaction:
    """Post one balanced transaction. The same idempotency key returns the original (never a second one);
    the same key with different postings raises IdempotencyConflict."""
    entry = Entry(
        idempotency_key=idempotency_key,
        legs=legs,
        memo=memo,
        effective_date=effective_date,
        cause_type=cause_type,
        cause_id=str(cause_id),
        reverses_id=reverses.pk if reverses is not None else None,
    )
    ((txn_id, row),) = _post([entry], timezone.now())
    if row is None:  # a replay: the original, as stored
        return JournalTransaction.objects.get(pk=txn_id)
    return JournalTransaction.from_db(connection.alias, [f.attname for f in _TXN_FIELDS], row)


@transaction.atomic
def journal_post_bulk(*, entries: Sequence[Entry], posted_at: datetime | None = None) -> list[int]:
    """Post many transactions with one lock and two COPYs; returns their ids in input order.

    Entries whose idempotency key is already posted (or repeated in the batch) map to the original id.
    """
    if not entries:
        return []
    return [txn_id for txn_id, _row in _post(entries, posted_at or timezone.now())]


_TXN_FIELDS = JournalTransaction._meta.concrete_fields
_TXN_COLUMNS = (
    "id, posted_at, effective_date, memo, idempotency_key, cause_type, cause_id, reverses_id, previous_hash, hash"
)


def _post(entries: Sequence[Entry], posted_at: datetime) -> list[tuple[int, tuple | None]]:
    """(id, the new row or None for a replay) per entry, in order. Must run inside a transaction."""
    today = timezone.localdate(posted_at)
    last_id, last_hash, known = _lock_chain_head(list({entry.idempotency_key for entry in entries}))
    stored = _existing_legs(known.values()) if known else {}

    result: list[tuple[int, tuple | None]] = []
    new_txns: list[tuple] = []
    new_legs: list[tuple] = []
    in_batch: dict[str, tuple[int, Entry]] = {}
    for entry in entries:
        key = entry.idempotency_key
        if key in known:
            txn_id = int(known[key])
            if not _same(entry, *stored[txn_id]):
                raise _conflict(key)
            result.append((txn_id, None))
            continue
        if key in in_batch:
            first_id, first = in_batch[key]
            if not _same(entry, first.leg_key, first.cause_type, first.cause_id):
                raise _conflict(key)
            result.append((first_id, None))
            continue
        last_id += 1
        effective_date = entry.effective_date or today
        previous_hash = last_hash
        last_hash = chain_hash(
            previous_hash,
            canonical(
                id=last_id,
                idempotency_key=key,
                posted_at=posted_at,
                effective_date=effective_date,
                memo=entry.memo,
                cause_type=entry.cause_type,
                cause_id=entry.cause_id,
                reverses_id=entry.reverses_id,
                legs=entry._legs,
            ),
        )
        row = (
            last_id, posted_at, effective_date, entry.memo, key, entry.cause_type, entry.cause_id, entry.reverses_id,
            previous_hash, last_hash,
        )  # fmt: skip
        new_txns.append(row)
        new_legs.extend((last_id, account_id, amount, currency) for account_id, currency, amount in entry._legs)
        in_batch[key] = (last_id, entry)
        result.append((last_id, row))

    if new_txns:
        _insert(new_txns, new_legs, head=(last_id, last_hash))
    return result


def _insert(txns: list[tuple], legs: list[tuple], *, head: tuple[int, str]) -> None:
    with connection.cursor() as cursor:
        if len(txns) == 1:
            # one small transaction: one statement writes it and its postings (COPY would cost more to set up)
            values = ", ".join(["(%s, %s, %s, %s)"] * len(legs))
            cursor.execute(
                f"WITH t AS (INSERT INTO ledger_journaltransaction ({_TXN_COLUMNS}) "  # noqa: S608
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)) "
                f"INSERT INTO ledger_posting (transaction_id, account_id, amount, currency) VALUES {values}",
                [*txns[0], *(value for leg in legs for value in leg)],
            )
        else:
            raw = cursor.cursor
            with raw.copy(f"COPY ledger_journaltransaction ({_TXN_COLUMNS}) FROM STDIN") as copy:
                for row in txns:
                    copy.write_row(row)
            with raw.copy("COPY ledger_posting (transaction_id, account_id, amount, currency) FROM STDIN") as copy:
                for row in legs:
                    copy.write_row(row)
        cursor.execute("UPDATE ledger_chainhead SET last_id = %s, last_hash = %s WHERE id = 1", list(head))


@transaction.atomic
def journal_reverse(
    *,
    original: JournalTransaction,
    idempotency_key: str | None = None,
    memo: str | None = None,
    effective_date: date | None = None,
) -> JournalTransaction:
    """Post the mirror image of `original`, linked to it. A transaction is reversed at most once: reversing it
    again with the same key returns the reversal; with another key it is an error."""
    key = idempotency_key or f"reversal-of:{original.pk}"
    already = JournalTransaction.objects.filter(reverses=original).first()
    if already is not None:
        if already.idempotency_key != key:
            raise LedgerError(_("Journal transaction %(id)s is already reversed.") % {"id": original.pk})
        return already
    postings = list(Posting.objects.filter(transaction=original).select_related("account"))
    return journal_post(
        legs=[Leg(p.account, -p.money) for p in postings],
        idempotency_key=key,
        memo=memo if memo is not None else _("Reversal of #%(id)s") % {"id": original.pk},
        effective_date=effective_date,
        cause_type=original.cause_type,
        cause_id=original.cause_id,
        reverses=original,
    )
