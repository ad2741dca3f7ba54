-- 0012's coverage query, whole; the pieces dropped.
CREATE OR REPLACE FUNCTION licensing_coverage_query(source text, licensee text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT format($query$
    WITH q AS NOT MATERIALIZED (
        SELECT s.ord, s.work_id, s.use, s.on_date, s.territory FROM %1$s s
    ), works AS MATERIALIZED (
        SELECT DISTINCT q.work_id FROM q WHERE q.work_id IS NOT NULL
    ), facts AS MATERIALIZED (
        SELECT f.work_id, f.ancestors, f.owners FROM works w JOIN licensing_work_facts f ON f.work_id = w.work_id
    ), anc AS MATERIALIZED (
        SELECT w.work_id, w.work_id AS anc_id FROM works w
        UNION ALL
        SELECT f.work_id, a.id FROM facts f, unnest(f.ancestors) AS a(id)
    ), asked AS MATERIALIZED (
        SELECT DISTINCT q.use, q.on_date, q.territory FROM q
    ), ag AS MATERIALIZED (
        SELECT a.id, a.starts_on, a.ends_on, a.uses, a.territories, a.scope_catalogue,
               row_number() OVER (ORDER BY a.starts_on, a.id) AS rank
          FROM licensing_agreement a
         WHERE a.licensee_id = %2$s AND a.status = 'active'
           AND EXISTS (SELECT 1 FROM asked k
                        WHERE k.use = ANY(a.uses)
                          AND a.starts_on <= k.on_date AND (a.ends_on IS NULL OR a.ends_on >= k.on_date)
                          AND (k.territory = ANY(a.territories) OR '*' = ANY(a.territories)))
    ), holders AS MATERIALIZED (
        SELECT sh.rightsholder_id AS rights_holder_id
          FROM licensing_agreement_scope_rights_holders sh JOIN ag ON ag.id = sh.agreement_id
        UNION
        SELECT r.rights_holder_id FROM licensing_reservation r
         WHERE r.work_id IS NULL AND r.lifted_at IS NULL AND r.uses && ARRAY(SELECT DISTINCT use FROM asked)::varchar[]
    ), owners AS MATERIALIZED (
        SELECT f.work_id, h.id AS rights_holder_id
          FROM facts f, unnest(f.owners) AS h(id)
         WHERE h.id IN (SELECT rights_holder_id FROM holders)
    ), blank AS (
        SELECT repeat('0', count(*)::integer)::varbit AS bits FROM ag
    ), scoped AS (
        SELECT w.work_id, ag.rank FROM works w CROSS JOIN ag WHERE ag.scope_catalogue
        UNION ALL
        SELECT anc.work_id, ag.rank
          FROM anc JOIN licensing_agreement_scope_works sw ON sw.work_id = anc.anc_id
          JOIN ag ON ag.id = sw.agreement_id
        UNION ALL
        SELECT o.work_id, ag.rank
          FROM owners o JOIN licensing_agreement_scope_rights_holders sh ON sh.rightsholder_id = o.rights_holder_id
          JOIN ag ON ag.id = sh.agreement_id
    ), candidates AS MATERIALIZED (
        SELECT s.work_id, bit_or(set_bit(blank.bits, s.rank::integer - 1, 1)) AS bits
          FROM scoped s CROSS JOIN blank GROUP BY s.work_id
    ), fits AS MATERIALIZED (
        SELECT k.use, k.on_date, k.territory,
               coalesce(bit_or(set_bit(blank.bits, ag.rank::integer - 1, 1)), blank.bits) AS bits
          FROM asked k CROSS JOIN blank
          LEFT JOIN ag ON k.use = ANY(ag.uses)
                      AND ag.starts_on <= k.on_date AND (ag.ends_on IS NULL OR ag.ends_on >= k.on_date)
                      AND (k.territory = ANY(ag.territories) OR '*' = ANY(ag.territories))
         GROUP BY k.use, k.on_date, k.territory, blank.bits
    ), reserved AS MATERIALIZED (
        SELECT anc.work_id, u.use
          FROM anc JOIN licensing_reservation r ON r.work_id = anc.anc_id AND r.lifted_at IS NULL,
               unnest(r.uses) AS u(use)
        UNION
        SELECT o.work_id, u.use
          FROM owners o JOIN licensing_reservation r
            ON r.rights_holder_id = o.rights_holder_id AND r.work_id IS NULL AND r.lifted_at IS NULL,
               unnest(r.uses) AS u(use)
    )
    SELECT q.ord, ag.id AS agreement_id, rv.work_id IS NOT NULL AS reserved
      FROM q
      LEFT JOIN candidates c ON c.work_id = q.work_id
      LEFT JOIN fits f ON f.use = q.use AND f.on_date = q.on_date AND f.territory = q.territory
      LEFT JOIN ag ON ag.rank = position(B'1' IN c.bits & f.bits)
      LEFT JOIN reserved rv ON rv.work_id = q.work_id AND rv.use = q.use
    $query$, source, licensee)
$fn$;

DROP FUNCTION IF EXISTS licensing_work_cover_query(text, text);
DROP FUNCTION IF EXISTS licensing_fits_query(text, text);
DROP FUNCTION IF EXISTS licensing_ranked_agreements_query(text, text);
