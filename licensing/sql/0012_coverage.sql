-- Coverage (RULES.md), set-based and linear: for each (work, use, date, territory) at position ord, the active
-- agreement of the licensee that covers it (the earliest-starting, then the lowest id) and whether a reservation
-- forbids it. A reservation beats every agreement; the caller treats a reserved or uncovered use as not licensed.
--
-- Replaces 0010's version, which ran a correlated subquery and an EXISTS per input row (quadratic at a report's
-- hundreds of thousands of combinations). Here every step is a join the planner can hash:
--   works    the distinct works asked about;
--   anc      each work with itself and its ancestors (the scope of a works-scoped agreement or a reservation may
--            name any of them);
--   owners   each work's effective rights holders, read from licensing_work_owner (kept by triggers, 0011);
--   ag       the licensee's active agreements, ranked by (starts_on, id): the rule's order of preference;
--   scoped   (work, agreement) pairs whose scope holds the work: catalogue, work or ancestor, or an effective holder;
--   reserved (work, use) pairs under an active reservation: of the work or an ancestor, or of an effective holder
--            reserving all its works;
--   best     per position, the lowest rank among the agreements in scope whose uses, dates and territories match.
CREATE OR REPLACE FUNCTION licensing_coverage(
    p_licensee uuid, p_work uuid[], p_use text[], p_date date[], p_territory text[]
) RETURNS TABLE (ord integer, agreement_id uuid, reserved boolean)
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE q AS MATERIALIZED (
        SELECT t.ord::integer AS ord, t.work_id, t.use, t.on_date, t.territory
          FROM unnest(p_work, p_use, p_date, p_territory) WITH ORDINALITY AS t(work_id, use, on_date, territory, ord)
    ), works AS MATERIALIZED (
        SELECT DISTINCT q.work_id FROM q WHERE q.work_id IS NOT NULL
    ), anc AS MATERIALIZED (
        SELECT w.work_id, w.work_id AS anc_id, 0 AS depth FROM works w
        UNION ALL
        SELECT anc.work_id, p.parent_id, anc.depth + 1
          FROM anc JOIN licensing_work p ON p.id = anc.anc_id
         WHERE p.parent_id IS NOT NULL AND anc.depth < 100
    ), owners AS MATERIALIZED (
        SELECT o.work_id, o.rights_holder_id
          FROM works w JOIN licensing_work_owner o ON o.work_id = w.work_id
    ), ag AS MATERIALIZED (
        SELECT a.id, a.starts_on, a.ends_on, a.uses, a.territories, a.scope_catalogue,
               row_number() OVER (ORDER BY a.starts_on, a.id) AS rank
          FROM licensing_agreement a
         WHERE a.licensee_id = p_licensee AND a.status = 'active'
    ), scoped AS MATERIALIZED (
        SELECT w.work_id, ag.rank FROM works w CROSS JOIN ag WHERE ag.scope_catalogue
        UNION
        SELECT anc.work_id, ag.rank
          FROM anc JOIN licensing_agreement_scope_works sw ON sw.work_id = anc.anc_id
          JOIN ag ON ag.id = sw.agreement_id
        UNION
        SELECT o.work_id, ag.rank
          FROM owners o JOIN licensing_agreement_scope_rights_holders sh ON sh.rightsholder_id = o.rights_holder_id
          JOIN ag ON ag.id = sh.agreement_id
    ), reserved AS MATERIALIZED (
        SELECT anc.work_id, u.use
          FROM anc JOIN licensing_reservation r ON r.work_id = anc.anc_id AND r.lifted_at IS NULL,
               unnest(r.uses) AS u(use)
        UNION
        SELECT o.work_id, u.use
          FROM owners o JOIN licensing_reservation r
            ON r.rights_holder_id = o.rights_holder_id AND r.work_id IS NULL AND r.lifted_at IS NULL,
               unnest(r.uses) AS u(use)
    ), best AS (
        SELECT q.ord, min(ag.rank) AS rank
          FROM q JOIN scoped s ON s.work_id = q.work_id JOIN ag ON ag.rank = s.rank
         WHERE q.use = ANY(ag.uses)
           AND ag.starts_on <= q.on_date AND (ag.ends_on IS NULL OR ag.ends_on >= q.on_date)
           AND (q.territory = ANY(ag.territories) OR '*' = ANY(ag.territories))
         GROUP BY q.ord
    )
    SELECT q.ord, ag.id, rv.work_id IS NOT NULL
      FROM q
      LEFT JOIN best ON best.ord = q.ord
      LEFT JOIN ag ON ag.rank = best.rank
      LEFT JOIN reserved rv ON rv.work_id = q.work_id AND rv.use = q.use
$$;
