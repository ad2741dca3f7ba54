-- 0013's cover query, and the whole-query coverage builder and runner as 0013 left them.
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

CREATE OR REPLACE FUNCTION licensing_coverage(
    p_licensee uuid, p_work uuid[], p_use text[], p_date date[], p_territory text[]
) RETURNS TABLE (ord integer, agreement_id uuid, reserved boolean)
LANGUAGE plpgsql STABLE
SET enable_mergejoin = off  -- see licensing_coverage_query: every join here is best hashed
AS $fn$
BEGIN
    RETURN QUERY EXECUTE licensing_coverage_query(
        '(SELECT t.ord::integer AS ord, t.work_id, t.use, t.on_date, t.territory
            FROM unnest($2, $3, $4, $5) WITH ORDINALITY AS t(work_id, use, on_date, territory, ord))',
        '$1'
    ) USING p_licensee, p_work, p_use, p_date, p_territory;
END
$fn$;
