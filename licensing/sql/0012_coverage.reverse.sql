-- Coverage (RULES.md), set-based: for each (work, use, date, territory) at position ord, the active agreement of
-- the licensee that covers it (the earliest-starting, then the lowest id) and whether a reservation forbids it.
-- A reservation beats every agreement; the caller treats a reserved or uncovered use as not licensed.
CREATE OR REPLACE FUNCTION licensing_coverage(
    p_licensee uuid, p_work uuid[], p_use text[], p_date date[], p_territory text[]
) RETURNS TABLE (ord integer, agreement_id uuid, reserved boolean)
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE q AS (
        SELECT t.ord::integer AS ord, t.work_id, t.use, t.on_date, t.territory
          FROM unnest(p_work, p_use, p_date, p_territory) WITH ORDINALITY AS t(work_id, use, on_date, territory, ord)
    ), works AS (
        SELECT DISTINCT work_id FROM q WHERE work_id IS NOT NULL
    ), anc AS (
        SELECT w.work_id, w.work_id AS anc_id, 0 AS depth FROM works w
        UNION ALL
        SELECT anc.work_id, p.parent_id, anc.depth + 1
          FROM anc JOIN licensing_work p ON p.id = anc.anc_id
         WHERE p.parent_id IS NOT NULL AND anc.depth < 100
    ), eff AS (
        SELECT e.work_id, e.rights_holder_id FROM licensing_effective_shares(ARRAY(SELECT work_id FROM works)) e
    ), ag AS MATERIALIZED (
        SELECT a.id, a.starts_on, a.ends_on, a.uses, a.territories, a.scope_catalogue
          FROM licensing_agreement a WHERE a.licensee_id = p_licensee AND a.status = 'active'
    ), scoped AS MATERIALIZED (
        SELECT w.work_id, ag.id AS agreement_id FROM works w CROSS JOIN ag WHERE ag.scope_catalogue
        UNION
        SELECT anc.work_id, sw.agreement_id
          FROM anc JOIN licensing_agreement_scope_works sw ON sw.work_id = anc.anc_id
         WHERE sw.agreement_id IN (SELECT id FROM ag)
        UNION
        SELECT eff.work_id, sh.agreement_id
          FROM eff JOIN licensing_agreement_scope_rights_holders sh ON sh.rightsholder_id = eff.rights_holder_id
         WHERE sh.agreement_id IN (SELECT id FROM ag)
    ), reserved AS MATERIALIZED (
        SELECT anc.work_id, u.use
          FROM anc JOIN licensing_reservation r ON r.work_id = anc.anc_id AND r.lifted_at IS NULL,
               unnest(r.uses) AS u(use)
        UNION
        SELECT eff.work_id, u.use
          FROM eff JOIN licensing_reservation r
            ON r.rights_holder_id = eff.rights_holder_id AND r.work_id IS NULL AND r.lifted_at IS NULL,
               unnest(r.uses) AS u(use)
    )
    SELECT q.ord,
           (SELECT ag.id
              FROM scoped s JOIN ag ON ag.id = s.agreement_id
             WHERE s.work_id = q.work_id
               AND q.use = ANY(ag.uses)
               AND ag.starts_on <= q.on_date AND (ag.ends_on IS NULL OR ag.ends_on >= q.on_date)
               AND (q.territory = ANY(ag.territories) OR '*' = ANY(ag.territories))
             ORDER BY ag.starts_on, ag.id
             LIMIT 1),
           EXISTS (SELECT 1 FROM reserved rv WHERE rv.work_id = q.work_id AND rv.use = q.use)
      FROM q
$$;

CREATE OR REPLACE FUNCTION licensing_refresh_work_owners(roots uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    subtree uuid[];
BEGIN
    IF roots IS NULL OR cardinality(roots) = 0 THEN
        RETURN;
    END IF;
    -- one refresh at a time: a concurrent one could otherwise delete rows another has just inserted
    PERFORM pg_advisory_xact_lock(hashtextextended('licensing_work_owner', 0));
    WITH RECURSIVE sub AS (
        SELECT w.id, 0 AS depth FROM licensing_work w WHERE w.id = ANY(roots)
        UNION
        SELECT c.id, sub.depth + 1
          FROM sub CROSS JOIN LATERAL (
              SELECT c.id FROM licensing_work c WHERE c.parent_id = sub.id OFFSET 0  -- the parent_id index
          ) c
         WHERE sub.depth < 100
    )
    SELECT array_agg(DISTINCT id) INTO subtree FROM sub;
    DELETE FROM licensing_work_owner WHERE work_id = ANY(subtree);
    INSERT INTO licensing_work_owner (rights_holder_id, work_id)
    SELECT DISTINCT es.rights_holder_id, es.work_id FROM licensing_effective_shares(subtree) es;
END
$$;

CREATE OR REPLACE FUNCTION licensing_work_owners_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM licensing_refresh_work_owners(ARRAY(SELECT id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        DELETE FROM licensing_work_owner WHERE work_id IN (SELECT id FROM old_rows);
    ELSIF TG_OP = 'TRUNCATE' THEN
        TRUNCATE licensing_work_owner;
    ELSE
        PERFORM licensing_refresh_work_owners(ARRAY(
            SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE n.parent_id IS DISTINCT FROM o.parent_id
        ));
    END IF;
    RETURN NULL;
END
$$;

DROP TABLE IF EXISTS licensing_work_facts;
DROP FUNCTION IF EXISTS licensing_coverage_query(text, text);
