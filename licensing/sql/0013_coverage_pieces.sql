-- Coverage in two halves that do not depend on each other, so that a long usage report computes each once per
-- distinct value instead of once per event (the ingestion keeps them in temporary tables across its chunks):
--   licensing_work_cover_query  per work: the agreements whose scope holds it (a bit string) and the uses reserved
--                               for it;
--   licensing_fits_query        per (use, date, territory): the agreements whose uses, dates and territories match.
-- An event's agreement is the first bit set in both (position(B'1' IN cover.bits & fits.bits)): the bits are ranks in
-- the agreements' order of preference (starts_on, id), so that is the preferred one. licensing_coverage_query is
-- rewritten from the two, which are the only statement of the rules.
--
-- Both take relation names or parenthesised subqueries (text, formatted into the query):
--   ag     (id, rank, starts_on, ends_on, uses, territories, scope_catalogue): the candidate agreements, ranked 1..n
--          with n = count(*); the bit strings are n bits long, bit k (from the left, 1-based) the agreement ranked k;
--   works  (work_id): the works, distinct, not null;
--   asked  (use, on_date, territory): the keys, distinct.

-- Per work: its candidate agreements (catalogue-scoped ones, the ones naming the work or one of its ancestors, the
-- ones naming one of its effective rights holders) and its reserved uses (reservations of the work or an ancestor,
-- or of an effective holder reserving all its works). Every step a join the planner can hash:
--   facts  each work's ancestors and effective rights holders (licensing_work_facts: one probe per work);
--   anc    each work with itself and its ancestors;
--   holders the rights holders that matter: in the scope of one of the agreements, or reserving all their works;
--   owners each work's effective rights holders among them.
CREATE OR REPLACE FUNCTION licensing_work_cover_query(works text, ag text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT format($query$
    WITH works AS MATERIALIZED (
        SELECT w.work_id FROM %1$s w
    ), base AS MATERIALIZED (
        SELECT z.bits AS zero,
               coalesce((SELECT bit_or(set_bit(z.bits, a.rank::integer - 1, 1)) FROM %2$s a WHERE a.scope_catalogue),
                        z.bits) AS catalogue
          FROM (SELECT repeat('0', count(*)::integer)::varbit AS bits FROM %2$s) z
    ), facts AS MATERIALIZED (
        SELECT f.work_id, f.ancestors, f.owners FROM works w JOIN licensing_work_facts f ON f.work_id = w.work_id
    ), anc AS MATERIALIZED (
        SELECT w.work_id, w.work_id AS anc_id FROM works w
        UNION ALL
        SELECT f.work_id, a.id FROM facts f, unnest(f.ancestors) AS a(id)
    ), holders AS MATERIALIZED (
        SELECT sh.rightsholder_id AS id
          FROM licensing_agreement_scope_rights_holders sh JOIN %2$s a ON a.id = sh.agreement_id
        UNION
        SELECT r.rights_holder_id FROM licensing_reservation r WHERE r.work_id IS NULL AND r.lifted_at IS NULL
    ), owners AS MATERIALIZED (
        SELECT f.work_id, h.id AS rights_holder_id
          FROM facts f, unnest(f.owners) AS h(id)
         WHERE h.id IN (SELECT id FROM holders)
    ), scoped AS (
        SELECT anc.work_id, a.rank
          FROM anc JOIN licensing_agreement_scope_works sw ON sw.work_id = anc.anc_id
          JOIN %2$s a ON a.id = sw.agreement_id
        UNION ALL
        SELECT o.work_id, a.rank
          FROM owners o JOIN licensing_agreement_scope_rights_holders sh ON sh.rightsholder_id = o.rights_holder_id
          JOIN %2$s a ON a.id = sh.agreement_id
    ), candidates AS (
        SELECT s.work_id, bit_or(set_bit(base.zero, s.rank::integer - 1, 1)) AS bits
          FROM scoped s CROSS JOIN base GROUP BY s.work_id
    ), reserved AS (
        SELECT v.work_id, array_agg(DISTINCT v.use)::text[] AS uses
          FROM (SELECT anc.work_id, u.use
                  FROM anc JOIN licensing_reservation r ON r.work_id = anc.anc_id AND r.lifted_at IS NULL,
                       unnest(r.uses) AS u(use)
                UNION ALL
                SELECT o.work_id, u.use
                  FROM owners o JOIN licensing_reservation r
                    ON r.rights_holder_id = o.rights_holder_id AND r.work_id IS NULL AND r.lifted_at IS NULL,
                       unnest(r.uses) AS u(use)) v
         GROUP BY v.work_id
    )
    SELECT w.work_id, coalesce(c.bits | base.catalogue, base.catalogue) AS bits,
           coalesce(r.uses, '{}'::text[]) AS reserved
      FROM works w CROSS JOIN base
      LEFT JOIN candidates c ON c.work_id = w.work_id
      LEFT JOIN reserved r ON r.work_id = w.work_id
    $query$, works, ag)
$fn$;

-- Per (use, date, territory): the agreements whose uses hold the use, whose dates hold the date and whose
-- territories hold the territory (or '*').
CREATE OR REPLACE FUNCTION licensing_fits_query(asked text, ag text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT format($query$
    SELECT k.use, k.on_date, k.territory,
           coalesce(bit_or(set_bit(z.bits, a.rank::integer - 1, 1)), z.bits) AS bits
      FROM %1$s k
     CROSS JOIN (SELECT repeat('0', count(*)::integer)::varbit AS bits FROM %2$s) z
      LEFT JOIN %2$s a ON k.use = ANY(a.uses)
                      AND a.starts_on <= k.on_date AND (a.ends_on IS NULL OR a.ends_on >= k.on_date)
                      AND (k.territory = ANY(a.territories) OR '*' = ANY(a.territories))
     GROUP BY k.use, k.on_date, k.territory, z.bits
    $query$, asked, ag)
$fn$;

-- The licensee's active agreements in the order of preference of the rules: the earliest-starting, then the lowest
-- id. (The ingestion ranks them all once per report; the clearance only those matching a key it is asked about.)
CREATE OR REPLACE FUNCTION licensing_ranked_agreements_query(licensee text, matching text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT format($query$
        SELECT a.id, a.starts_on, a.ends_on, a.uses, a.territories, a.scope_catalogue, a.currency,
               row_number() OVER (ORDER BY a.starts_on, a.id) AS rank
          FROM licensing_agreement a
         WHERE a.licensee_id = %1$s AND a.status = 'active' AND (%2$s)
    $query$, licensee, matching)
$fn$;

-- Coverage (RULES.md) of (work, use, date, territory) rows at positions ord: the active agreement of the licensee
-- that covers each (the earliest-starting, then the lowest id) and whether a reservation forbids it. A reservation
-- beats every agreement; the caller treats a reserved or uncovered use as not licensed.
-- source: a relation or parenthesised subquery with columns (ord integer, work_id uuid, use text, on_date date,
-- territory text); licensee: an SQL expression for the licensee's id. Result: (ord, agreement_id, reserved).
-- Run it with enable_mergejoin off (see 0012). q is NOT MATERIALIZED so that each use of it reads the source with
-- its statistics.
CREATE OR REPLACE FUNCTION licensing_coverage_query(source text, licensee text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT format($query$
    WITH q AS NOT MATERIALIZED (
        SELECT s.ord, s.work_id, s.use, s.on_date, s.territory FROM %1$s s
    ), asked AS MATERIALIZED (
        SELECT DISTINCT q.use, q.on_date, q.territory FROM q
    ), ag AS MATERIALIZED (%2$s
    ), covers AS MATERIALIZED (%3$s
    ), fits AS MATERIALIZED (%4$s
    )
    SELECT q.ord, ag.id AS agreement_id, coalesce(q.use = ANY(cv.reserved), false) AS reserved
      FROM q
      LEFT JOIN covers cv ON cv.work_id = q.work_id
      LEFT JOIN fits f ON f.use = q.use AND f.on_date = q.on_date AND f.territory = q.territory
      LEFT JOIN ag ON ag.rank = position(B'1' IN cv.bits & f.bits)
    $query$,
    source,
    licensing_ranked_agreements_query(licensee, $m$EXISTS (
        SELECT 1 FROM asked k
         WHERE k.use = ANY(a.uses)
           AND a.starts_on <= k.on_date AND (a.ends_on IS NULL OR a.ends_on >= k.on_date)
           AND (k.territory = ANY(a.territories) OR '*' = ANY(a.territories)))$m$),
    licensing_work_cover_query('(SELECT DISTINCT q.work_id FROM q WHERE q.work_id IS NOT NULL)', 'ag'),
    licensing_fits_query('asked', 'ag'))
$fn$;
