CREATE OR REPLACE FUNCTION licensing_owned_works(holder_ids uuid[])
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
DROP TRIGGER IF EXISTS licensing_work_owners_truncate ON licensing_work;
DROP TRIGGER IF EXISTS licensing_work_owners_delete ON licensing_work;
DROP TRIGGER IF EXISTS licensing_work_owners_update ON licensing_work;
DROP TRIGGER IF EXISTS licensing_work_owners_insert ON licensing_work;
DROP TRIGGER IF EXISTS licensing_share_owners_delete ON licensing_share;
DROP TRIGGER IF EXISTS licensing_share_owners_update ON licensing_share;
DROP TRIGGER IF EXISTS licensing_share_owners_insert ON licensing_share;
DROP FUNCTION IF EXISTS licensing_work_owners_trigger();
DROP FUNCTION IF EXISTS licensing_share_owners_trigger();
DROP FUNCTION IF EXISTS licensing_refresh_work_owners(uuid[]);
DROP TABLE IF EXISTS licensing_work_owner;
