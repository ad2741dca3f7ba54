-- The works a set of rights holders holds shares of directly, and every ancestor of those: with
-- licensing_owned_works (their descendants that inherit the shares), the works an agreement may list in its scope
-- to cover something those holders own.
CREATE FUNCTION licensing_holder_work_ancestors(holder_ids uuid[])
RETURNS TABLE (work_id uuid)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH RECURSIVE up AS (
        SELECT w.id, w.parent_id, 0 AS depth
          FROM licensing_share s JOIN licensing_work w ON w.id = s.work_id
         WHERE s.rights_holder_id = ANY(holder_ids)
        UNION
        SELECT p.id, p.parent_id, up.depth + 1
          FROM up JOIN licensing_work p ON p.id = up.parent_id
         WHERE up.depth < 100
    )
    SELECT DISTINCT id FROM up
$$;
