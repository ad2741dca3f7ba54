-- Effective ownership, set-based: a work's own shares, or (when it has none) those of its nearest ancestor that has.
CREATE FUNCTION licensing_effective_shares(work_ids uuid[])
RETURNS TABLE (work_id uuid, rights_holder_id uuid, share numeric, owner_work_id uuid)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH RECURSIVE up AS (
        SELECT w.id AS work_id, w.id AS at_id, w.parent_id, 0 AS depth
          FROM licensing_work w
         WHERE w.id = ANY(work_ids)
        UNION ALL
        SELECT up.work_id, p.id, p.parent_id, up.depth + 1
          FROM up JOIN licensing_work p ON p.id = up.parent_id
         WHERE up.depth < 100 AND NOT EXISTS (SELECT 1 FROM licensing_share s WHERE s.work_id = up.at_id)
    )
    SELECT up.work_id, s.rights_holder_id, s.share, up.at_id
      FROM up JOIN licensing_share s ON s.work_id = up.at_id
$$;

-- The works a set of rights holders owns: those with their share, and the descendants that inherit it.
CREATE FUNCTION licensing_owned_works(holder_ids uuid[])
RETURNS TABLE (work_id uuid)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH RECURSIVE owned AS (
        SELECT s.work_id, 0 AS depth FROM licensing_share s WHERE s.rights_holder_id = ANY(holder_ids)
        UNION
        SELECT c.id, owned.depth + 1
          FROM owned JOIN licensing_work c ON c.parent_id = owned.work_id
         WHERE owned.depth < 100 AND NOT EXISTS (SELECT 1 FROM licensing_share s WHERE s.work_id = c.id)
    )
    SELECT DISTINCT work_id FROM owned
$$;

-- The works (of the given ones) under an active reservation of any use: by the work or an ancestor, or by a
-- rights holder that effectively owns it reserving all its works.
CREATE FUNCTION licensing_reserved_works(work_ids uuid[], use_filter text DEFAULT NULL)
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
