-- 0013's cover query.
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
