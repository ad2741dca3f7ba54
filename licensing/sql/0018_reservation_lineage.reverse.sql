-- 0018 undone (the migration first runs 0017's file again, CREATE OR REPLACE throughout, for the cover query).
-- The two other functions come from files that cannot run twice (0012 creates a table, 0004 plain functions): their
-- definitions again, as those files made them, then the column goes.

-- 0012's refresh
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
    -- ancestors: walked up from the subtree's top works (whose parent is outside it, so the walk is short), then
    -- handed down the subtree level by level; owners: the effective shares, computed once for both tables
    WITH RECURSIVE members AS MATERIALIZED (
        SELECT m.id FROM unnest(subtree) AS m(id)
    ), top AS (
        SELECT w.id, w.parent_id FROM members m JOIN licensing_work w ON w.id = m.id
         WHERE w.parent_id IS NULL OR w.parent_id NOT IN (SELECT id FROM members)
    ), up AS (
        SELECT top.id AS work_id, top.parent_id AS at_id, 1 AS depth FROM top
        UNION ALL
        SELECT up.work_id, p.parent_id, up.depth + 1
          FROM up JOIN licensing_work p ON p.id = up.at_id
         WHERE up.at_id IS NOT NULL AND up.depth < 100
    ), down AS (
        SELECT up.work_id AS id,
               coalesce(array_agg(up.at_id ORDER BY up.depth) FILTER (WHERE up.at_id IS NOT NULL), '{}') AS ancestors,
               0 AS depth
          FROM up GROUP BY up.work_id
        UNION ALL
        SELECT c.id, down.id || down.ancestors, down.depth + 1
          FROM down CROSS JOIN LATERAL (
              SELECT c.id FROM licensing_work c WHERE c.parent_id = down.id OFFSET 0  -- the parent_id index
          ) c
         WHERE down.depth < 100
    ), es AS MATERIALIZED (
        SELECT DISTINCT e.rights_holder_id, e.work_id FROM licensing_effective_shares(subtree) e
    ), owners AS (
        INSERT INTO licensing_work_owner (rights_holder_id, work_id) SELECT rights_holder_id, work_id FROM es
    )
    INSERT INTO licensing_work_facts (work_id, ancestors, owners)
    SELECT d.id, d.ancestors, coalesce(o.owners, '{}')
      FROM down d
      LEFT JOIN (SELECT es.work_id, array_agg(es.rights_holder_id ORDER BY es.rights_holder_id) AS owners
                   FROM es GROUP BY es.work_id) o ON o.work_id = d.id
    ON CONFLICT (work_id) DO UPDATE SET ancestors = excluded.ancestors, owners = excluded.owners;
END
$$;

-- 0004's reserved works
CREATE OR REPLACE FUNCTION licensing_reserved_works(work_ids uuid[], use_filter text DEFAULT NULL)
RETURNS TABLE (work_id uuid)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH RECURSIVE up AS (
        SELECT w.id AS work_id, w.id AS at_id, w.parent_id, 0 AS depth FROM licensing_work w WHERE w.id = ANY(work_ids)
        UNION ALL
        SELECT up.work_id, p.id, p.parent_id, up.depth + 1
          FROM up JOIN licensing_work p ON p.id = up.parent_id
         WHERE up.depth < 100
    )
    SELECT up.work_id FROM up
      JOIN licensing_reservation r ON r.work_id = up.at_id
     WHERE r.lifted_at IS NULL AND (use_filter IS NULL OR use_filter = ANY(r.uses))
    UNION
    SELECT es.work_id FROM licensing_effective_shares(work_ids) es
      JOIN licensing_reservation r ON r.rights_holder_id = es.rights_holder_id AND r.work_id IS NULL
     WHERE r.lifted_at IS NULL AND (use_filter IS NULL OR use_filter = ANY(r.uses))
$$;

ALTER TABLE licensing_work_facts DROP COLUMN lineage_owners;
