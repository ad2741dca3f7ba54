-- Each licensee's covers (licensing_work_cover_query: a work's candidate agreements as bits in the order of
-- preference of the licensee's active agreements, and its reserved uses) kept across usage reports: a licensee
-- reports the same popular works month after month, and their covers change only when an agreement, a scope, a
-- reservation or the work's ancestors or owners change.
--
-- A kept cover is used while two numbers are what they were when it was computed:
-- - licensing_coverage_state.generation, for agreements, scopes and reservations (few, rare changes, each touching
--   many works): every statement that changes one of them raises it (statement triggers below), in its own
--   transaction, so a change not yet committed is not seen either. A row, not a sequence: a sequence's next value
--   is visible before the change it marks commits, and a report could then keep a cover computed from the old data
--   under the new number. A report reads the generation before anything else, and uses or keeps covers only while
--   it is still the one it read (checked in the same statement, so with the same snapshot as the data it computes
--   from): a change during the report makes it compute the rest afresh and keep nothing;
-- - the work's facts version (licensing_work_facts.version, below), for its ancestors and owners.
--
-- Unlogged: a cache, lost in a crash (emptied at recovery) and then computed again; no WAL for the writes.
CREATE TABLE licensing_coverage_state (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    generation bigint NOT NULL CHECK (generation > 0)
);
INSERT INTO licensing_coverage_state (id, generation) VALUES (true, 1);

CREATE UNLOGGED TABLE licensing_work_cover (
    licensee_id uuid NOT NULL,  -- no foreign keys: a cache, and Django's flush truncates the catalogue
    work_id uuid NOT NULL,
    generation bigint NOT NULL,
    bits varbit NOT NULL,       -- bit k: the licensee's active agreement ranked k (licensing_ranked_agreements_query)
    reserved text[] NOT NULL,
    facts_version bigint NOT NULL,  -- licensing_work_facts.version of the work, when computed
    PRIMARY KEY (licensee_id, work_id)
);

-- Raise the generation. Statement-level: once per statement whatever its size; a statement that changed no row (an
-- UPDATE matching nothing, an INSERT ... ON CONFLICT that inserted only) does not invalidate anything.
CREATE FUNCTION licensing_coverage_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed boolean;
BEGIN
    -- one branch per operation: each planned only when run, and only its own transition table exists
    IF TG_OP = 'TRUNCATE' THEN
        changed := true;
    ELSIF TG_OP = 'DELETE' THEN
        changed := EXISTS (SELECT 1 FROM old_rows);
    ELSE
        changed := EXISTS (SELECT 1 FROM new_rows);
    END IF;
    IF changed THEN
        UPDATE licensing_coverage_state SET generation = generation + 1;
    END IF;
    RETURN NULL;
END
$$;

DO $$
DECLARE
    t text;
BEGIN
    -- every input of licensing_work_cover_query and of the agreements' ranking
    FOREACH t IN ARRAY ARRAY['licensing_agreement', 'licensing_agreement_scope_works',
                             'licensing_agreement_scope_rights_holders', 'licensing_reservation'] LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION licensing_coverage_changed()', t || '_cover_insert', t);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING NEW TABLE AS new_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION licensing_coverage_changed()', t || '_cover_update', t);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION licensing_coverage_changed()', t || '_cover_delete', t);
        EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %I'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION licensing_coverage_changed()', t || '_cover_truncate', t);
    END LOOP;
END
$$;

-- A work's facts (ancestors, effective owners) change often in a living catalogue (every work added, every share
-- changed), and change only that work's cover (and its descendants', refreshed with it): they carry a version
-- instead of raising the generation. A cover is kept with the version of the facts it was computed from, read in
-- the same statement (so from the same snapshot), and used only while the work's facts still have that version. A
-- sequence is right here, unlike for the generation: the number lives in the facts row, visible with it or not at
-- all. The refresh only writes (and so versions) the facts that really changed.
CREATE SEQUENCE licensing_work_facts_version;
ALTER TABLE licensing_work_facts ADD COLUMN version bigint;
UPDATE licensing_work_facts SET version = nextval('licensing_work_facts_version');
ALTER TABLE licensing_work_facts
    ALTER COLUMN version SET DEFAULT nextval('licensing_work_facts_version'),
    ALTER COLUMN version SET NOT NULL;
ALTER SEQUENCE licensing_work_facts_version OWNED BY licensing_work_facts.version;

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
    ON CONFLICT (work_id) DO UPDATE
       SET ancestors = excluded.ancestors, owners = excluded.owners, version = nextval('licensing_work_facts_version')
     WHERE (licensing_work_facts.ancestors, licensing_work_facts.owners)
           IS DISTINCT FROM (excluded.ancestors, excluded.owners);
END
$$;
