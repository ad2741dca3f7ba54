"""Reads for the licensing app. Visibility is decided here, once: staff see everything, a rights holder's user
its own world, a licensee the catalogue (read-only) and its own agreements."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL

from . import parallel
from .ingest import quick_gil_handoff
from .models import Agreement, ApiKey, Licensee, Reservation, RightsHolder, Share, Work, WorkIdentifier
from .principals import Access
from .references import parse_reference, reference_arrays

logger = logging.getLogger(__name__)


def api_key_list_for_user(*, user) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user)


def owned_work_ids_sql(holder_ids: Iterable) -> RawSQL:
    return RawSQL("SELECT work_id FROM licensing_owned_works(%s::uuid[])", [[str(h) for h in holder_ids]])


# rights holders ----------------------------------------------------------------------------------------------------
def rights_holder_list(*, access: Access) -> QuerySet[RightsHolder]:
    qs = RightsHolder.objects.all()
    if access.is_staff or access.is_licensee:
        return qs
    return qs.filter(pk__in=access.holder_ids)


def rights_holder_search(qs: QuerySet[RightsHolder], term: str) -> QuerySet[RightsHolder]:
    return qs.filter(_bigram_match(["name", "name_kana"], term))


# works -------------------------------------------------------------------------------------------------------------
def work_list(*, access: Access) -> QuerySet[Work]:
    qs = Work.objects.all()
    if access.is_staff or access.is_licensee:
        return qs
    if not access.holder_ids:
        return qs.none()
    return qs.filter(pk__in=owned_work_ids_sql(access.holder_ids))


def work_search(qs: QuerySet[Work], term: str) -> QuerySet[Work]:
    """Substring search of titles (Japanese or English) through the bigram indexes, plus exact identifiers."""
    term = term.strip()
    if not term:
        return qs
    match = _bigram_match(["title", "title_en"], term)
    reference = work_reference_filter(term)
    return qs.filter(match | reference) if reference is not None else qs.filter(match)


def _bigram_match(fields: list[str], term: str) -> Q:
    """Substring search: `(bigrams(a) @> bigrams(term) OR …) AND (a ILIKE %term% OR …)`. The first half is
    exactly the GIN index condition, so PostgreSQL rechecks only the cheap ILIKEs (a title containing the term
    contains all its bigrams, so the result is the same as the ILIKEs alone)."""
    text = Q()
    indexed = Q()
    for field in fields:
        text |= Q(**{f"{field}__icontains": term})
        if len(term) >= 2:
            indexed |= Q(**{f"{field}__bigram_contains": term})
    return indexed & text if len(term) >= 2 else text


def work_reference_filter(reference: str) -> Q | None:
    """A work reference (API.md): `<uuid>`, `isbn:…`, `iscc:…`, `ext:<scheme>:<value>`; None if malformed."""
    ref = parse_reference(reference)
    if ref is None:
        return None
    if ref.isbn:
        return Q(isbn=ref.isbn)
    if ref.iscc:
        return Q(iscc=ref.iscc)
    if ref.scheme:
        return Q(Exists(WorkIdentifier.objects.filter(work=OuterRef("pk"), scheme=ref.scheme, value=ref.value)))
    return Q(pk=ref.id)


# A clearance is one statement built from the coverage rules' own pieces (licensing/sql/0013_coverage_pieces.sql,
# 0017_cover_projectset.sql), as a usage report's is: the references resolved kind by kind; the licensee's active
# agreements ranked in the rules' order of preference (licensing_ranked_agreements_query); each work's candidate
# agreements and reserved uses (licensing_work_cover_query); the agreements fitting the one (use, date, territory)
# asked about (licensing_fits_query); a work's agreement is the first bit set in both. Planned for what a clearance
# is: every join hashed (no merge joins, see 0017), no parallel workers (starting them costs more than they save on
# 10,000 references), and index probes priced as what they are for a catalogue held in memory (random_page_cost
# 1.1, not 4: else the 1,000 `ext:` references of a call become a hash of every external id).
# The settings are local to the transaction; called inside a caller's transaction, the clearance puts back what it
# found (read first: the subquery is planned apart, so it runs before the outer list sets anything).
CLEARANCE_SETTINGS = {"enable_mergejoin": "off", "max_parallel_workers_per_gather": "0", "random_page_cost": "1.1"}
CLEARANCE_PLAN = f"""
SELECT was.*, {", ".join(f"set_config('{name}', '{value}', true)" for name, value in CLEARANCE_SETTINGS.items())},
       licensing_ranked_agreements_query(quote_literal(%s) || '::uuid', 'true'),
       licensing_work_cover_query('(SELECT DISTINCT res.work_id FROM res)', 'ag'),
       licensing_fits_query('asked', 'ag'),
       CASE WHEN %s THEN pg_export_snapshot() END
  FROM (SELECT {", ".join(f"current_setting('{name}')" for name in CLEARANCE_SETTINGS)} OFFSET 0) was
"""  # noqa: S608 (constant fragments)
CLEARANCE_RESTORE = "SELECT " + ", ".join(f"set_config('{name}', %s, true)" for name in CLEARANCE_SETTINGS)
# The references come as arrays of positions and values per kind (references.reference_arrays).
CLEARANCE = """
WITH res AS MATERIALIZED (
    SELECT r.ord, w.id AS work_id
      FROM unnest(%(id_ord)s::integer[], %(id_value)s::uuid[]) AS r(ord, id) JOIN licensing_work w ON w.id = r.id
    UNION ALL
    SELECT r.ord, w.id
      FROM unnest(%(isbn_ord)s::integer[], %(isbn_value)s::text[]) AS r(ord, isbn)
      JOIN licensing_work w ON w.isbn = r.isbn
    UNION ALL
    SELECT r.ord, w.id
      FROM unnest(%(iscc_ord)s::integer[], %(iscc_value)s::text[]) AS r(ord, iscc)
      JOIN licensing_work w ON w.iscc = r.iscc
    UNION ALL
    SELECT r.ord, x.work_id
      FROM unnest(%(ext_ord)s::integer[], %(ext_scheme)s::text[], %(ext_value)s::text[]) AS r(ord, scheme, value)
      JOIN licensing_workidentifier x ON x.scheme = r.scheme AND x.value = r.value
), asked AS MATERIALIZED (
    SELECT %(use)s::text AS use, %(on_date)s::date AS on_date, %(territory)s::text AS territory
), ag AS MATERIALIZED ({agreements}
), covers AS MATERIALIZED ({covers}
), fits AS MATERIALIZED ({fits}
)
SELECT res.ord, res.work_id::text, ag.id::text, k.use = ANY(cv.reserved)
  FROM res
  JOIN covers cv ON cv.work_id = res.work_id
 CROSS JOIN asked k CROSS JOIN fits f
  LEFT JOIN ag ON ag.rank = position(B'1' IN cv.bits & f.bits)
"""


def clearance(*, licensee, refs: list[str], use: str, on_date, territory: str) -> list[dict]:
    """One result per reference, in order: licensed / not_licensed / reserved / unknown, with the covering agreement.
    One statement whatever the number of references (and one to build it); a large call is split into parts of
    that statement run side by side on several connections reading one snapshot (licensing/parallel.py). Ids
    come back as text: the answer is JSON, so no uuid objects are made only to be written out again."""
    if not refs:
        return []
    nested = connection.in_atomic_block or not connection.get_autocommit()  # the transaction outlives this call
    # A caller's transaction may hold changes other connections cannot see: then the call runs as one part.
    parts = 1 if nested else max(1, min(settings.CLEARANCE_PARTS, len(refs) // settings.CLEARANCE_PART_MIN_REFS))
    size = -(-len(refs) // parts)
    bounds = range(0, len(refs), size)
    parts = len(bounds)
    asked = {"use": use, "on_date": on_date, "territory": territory}
    with transaction.atomic(), connection.cursor() as cursor:
        if parts > 1:
            cursor.execute(parallel.EXPORTING_TRANSACTION)
        cursor.execute(CLEARANCE_PLAN, [str(licensee.pk), parts > 1])  # the last column: the snapshot
        plan = cursor.fetchone()
        was = plan[: len(CLEARANCE_SETTINGS)]
        agreements, covers, fits = (piece.replace("%", "%%") for piece in plan[-4:-1])
        query = CLEARANCE.format(agreements=agreements, covers=covers, fits=fits)
        params = parallel.connection_params() if parts > 1 else None
        others: list[tuple[dict, parallel.Part | None]] = []
        try:
            # The other parts first, each sent off as soon as its references are written, then this thread's own;
            # the threads hand the GIL over quickly, so a part's results are read as soon as they arrive.
            with quick_gil_handoff():
                for start in bounds[1:]:
                    arrays = {**reference_arrays(refs[start : start + size], offset=start), **asked}
                    others.append((arrays, _clearance_part_submit(params, plan[-1], query, arrays, parts)))
                cursor.execute(query, {**reference_arrays(refs[:size]), **asked})
                rows = cursor.fetchall()
                for arrays, part in others:
                    part_rows = _clearance_part_rows(part)
                    if part_rows is None:  # it failed on its spare connection: on the request's own
                        cursor.execute(query, arrays)
                        part_rows = cursor.fetchall()
                    rows += part_rows
        except BaseException:
            for _arrays, part in others:  # the request failed: no part outlives it
                if part is not None:
                    part.stop()
            raise
        if nested:
            cursor.execute(CLEARANCE_RESTORE, was)
    results = [{"ref": ref, "work": None, "status": "unknown", "agreement": None} for ref in refs]
    for position, work_id, agreement_id, reserved in rows:
        result = results[position]
        result["work"] = work_id
        if reserved:
            result["status"] = "reserved"
        elif agreement_id is not None:
            result["status"], result["agreement"] = "licensed", agreement_id
        else:
            result["status"] = "not_licensed"
    return results


def _clearance_part_submit(params: dict, snapshot: str, query: str, arrays: dict, parts: int) -> parallel.Part | None:
    try:
        return parallel.submit_part(
            params=params, snapshot=snapshot, settings=CLEARANCE_SETTINGS, query=query, query_params=arrays,
            parts=parts,
        )  # fmt: skip
    except Exception:  # no thread to be had (a process limit, shutting down): the request runs the part itself
        logger.warning("a part of a clearance could not be sent to a spare connection", exc_info=True)
        return None


def _clearance_part_rows(part: parallel.Part | None) -> list[tuple] | None:
    if part is None:
        return None
    try:
        return part.result()
    except Exception:  # any failure there (the connection, a lock it would have waited for): run again here
        logger.warning("a part of a clearance failed on a spare connection; run again", exc_info=True)
        return None


def effective_shares(work_ids: Iterable) -> dict:
    """work id → [(rights holder id, share, owner work id)] — own shares or the nearest ancestor's."""
    ids = [str(pk) for pk in work_ids]
    result: dict = defaultdict(list)
    if not ids:
        return result
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT work_id, rights_holder_id, share, owner_work_id FROM licensing_effective_shares(%s::uuid[]) "
            "ORDER BY work_id, share DESC, rights_holder_id",
            [ids],
        )
        for work_id, holder_id, share, owner_work_id in cursor.fetchall():
            result[work_id].append((holder_id, Decimal(share), owner_work_id))
    return result


def reserved_work_ids(work_ids: Iterable, use: str | None = None) -> set:
    ids = [str(pk) for pk in work_ids]
    if not ids:
        return set()
    with connection.cursor() as cursor:
        cursor.execute("SELECT work_id FROM licensing_reserved_works(%s::uuid[], %s)", [ids, use])
        return {row[0] for row in cursor.fetchall()}


def work_details(works: list[Work]) -> dict:
    """For a page of works, in a fixed number of queries: identifiers, effective shares, reserved flag."""
    ids = [work.pk for work in works]
    externals: dict = defaultdict(list)
    for work_id, scheme, value in WorkIdentifier.objects.filter(work_id__in=ids).values_list(
        "work_id", "scheme", "value"
    ):
        externals[work_id].append({"scheme": scheme, "value": value})
    shares = effective_shares(ids)
    reserved = reserved_work_ids(ids)
    return {"external": externals, "shares": shares, "reserved": reserved}


def work_is_owned_by(*, work: Work, holder_ids: Iterable) -> bool:
    holders = set(holder_ids)
    return any(holder in holders for holder, _share, _owner in effective_shares([work.pk]).get(work.pk, []))


# reservations ------------------------------------------------------------------------------------------------------
def reservation_list(*, access: Access) -> QuerySet[Reservation]:
    qs = Reservation.objects.select_related("rights_holder", "work")
    if access.is_staff:
        return qs
    return qs.filter(rights_holder_id__in=access.holder_ids)


# licensees and agreements ------------------------------------------------------------------------------------------
def licensee_list(*, access: Access) -> QuerySet[Licensee]:
    if access.is_staff:
        return Licensee.objects.all()
    if access.is_licensee:
        return Licensee.objects.filter(pk=access.licensee.pk)
    return Licensee.objects.none()


def agreement_list(*, access: Access) -> QuerySet[Agreement]:
    qs = Agreement.objects.select_related("licensee")
    if access.is_staff:
        return qs
    if access.is_licensee:
        return qs.filter(licensee=access.licensee)
    if access.holder_ids:
        return agreements_covering_holders(qs, access.holder_ids)
    return qs.none()


def agreements_covering_holders(qs: QuerySet[Agreement], holder_ids: Iterable) -> QuerySet[Agreement]:
    """Agreements whose scope reaches a holder's works: the whole catalogue, the holder itself, or a listed work
    that is one of its works or an ancestor of one (a listed series covers its volumes)."""
    holder_ids = [str(h) for h in holder_ids]
    owned = owned_work_ids_sql(holder_ids)
    ancestors = RawSQL("SELECT work_id FROM licensing_holder_work_ancestors(%s::uuid[])", [holder_ids])
    in_scope = Agreement.scope_works.through.objects.filter(Q(work_id__in=owned) | Q(work_id__in=ancestors))
    return qs.filter(
        Q(scope_catalogue=True)
        | Q(
            pk__in=Agreement.scope_rights_holders.through.objects.filter(rightsholder_id__in=holder_ids).values(
                "agreement_id"
            )
        )
        | Q(pk__in=in_scope.values("agreement_id"))
    )


def shares_of(work: Work) -> list[Share]:
    return list(work.shares.select_related("rights_holder"))
