-- Effective ownership, materialized: one row per (rights holder, work) for every holder of a work's effective
-- shares (its own, or its nearest ancestor's that has some). Kept by the triggers below; licensing_owned_works
-- reads it, so a rights holder's works are an index range, not a recursive walk of the hierarchy.
CREATE TABLE licensing_work_owner (
    rights_holder_id uuid NOT NULL,
    work_id uuid NOT NULL,  -- no foreign key: Django's flush truncates licensing_work, which it could not then
    PRIMARY KEY (rights_holder_id, work_id)
);
CREATE INDEX licensing_work_owner_work ON licensing_work_owner (work_id, rights_holder_id);

-- Recompute the owners of some works and of all their descendants.
CREATE FUNCTION licensing_refresh_work_owners(roots uuid[]) RETURNS void
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

CREATE FUNCTION licensing_share_owners_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM licensing_refresh_work_owners(ARRAY(SELECT DISTINCT work_id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM licensing_refresh_work_owners(ARRAY(SELECT DISTINCT work_id FROM old_rows));
    ELSE
        PERFORM licensing_refresh_work_owners(ARRAY(SELECT work_id FROM new_rows UNION SELECT work_id FROM old_rows));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER licensing_share_owners_insert AFTER INSERT ON licensing_share
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION licensing_share_owners_trigger();
CREATE TRIGGER licensing_share_owners_update AFTER UPDATE ON licensing_share
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION licensing_share_owners_trigger();
CREATE TRIGGER licensing_share_owners_delete AFTER DELETE ON licensing_share
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION licensing_share_owners_trigger();

-- A new work inherits its parent's owners; a work that moves takes its subtree to new owners; a deleted work's rows
-- go (its children, PROTECTed, cannot remain).
CREATE FUNCTION licensing_work_owners_trigger() RETURNS trigger
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

CREATE TRIGGER licensing_work_owners_insert AFTER INSERT ON licensing_work
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION licensing_work_owners_trigger();
CREATE TRIGGER licensing_work_owners_update AFTER UPDATE ON licensing_work
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION licensing_work_owners_trigger();
CREATE TRIGGER licensing_work_owners_delete AFTER DELETE ON licensing_work
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION licensing_work_owners_trigger();
CREATE TRIGGER licensing_work_owners_truncate AFTER TRUNCATE ON licensing_work
    FOR EACH STATEMENT EXECUTE FUNCTION licensing_work_owners_trigger();

-- The existing catalogue.
SELECT licensing_refresh_work_owners(ARRAY(SELECT id FROM licensing_work WHERE parent_id IS NULL));

-- Same signature and result as before, now an index range. No DISTINCT: callers use it in `IN (…)`, and a plain
-- SELECT is inlined into their query, so the planner sees the table and its statistics (with DISTINCT it is not,
-- and a big holder's changelist goes from 3 ms to 500 ms). A work owned by several of the holders repeats.
CREATE OR REPLACE FUNCTION licensing_owned_works(holder_ids uuid[])
RETURNS TABLE (work_id uuid)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT o.work_id FROM licensing_work_owner o WHERE o.rights_holder_id = ANY(holder_ids)
$$;
