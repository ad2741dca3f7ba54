-- Each licensee's covers (licensing_work_cover_query: a work's candidate agreements as bits in the order of
-- preference of the licensee's active agreements, and its reserved uses) kept across usage reports: a licensee
-- reports the same popular works month after month, and their covers change only when an agreement, a scope, a
-- reservation or the work's ancestors or owners change.
--
-- licensing_coverage_state holds two counters, each raised in the transaction of the change it marks (a row, not a
-- sequence: a sequence's next value is visible before that change commits):
-- - generation: raised by every statement that changes an agreement, a scope or a reservation (few, rare changes,
--   each touching many works). A kept cover is used only under the generation it was computed in: all fall at once;
-- - catalogue: raised by every statement that changes works' facts (licensing_work_facts: ancestors and effective
--   owners; frequent in a living catalogue, each touching a few works), which also deletes those works' kept covers,
--   after raising it.
--
-- A report reads both counters before anything else. It uses kept covers only while the generation is still the one
-- it read (checked in each statement, with the snapshot the statement computes from), and keeps the covers it
-- computed only if neither counter has moved, checked under a FOR SHARE lock of the counters' row held to its
-- COMMIT: a change of facts either commits before that check (the report sees the counter moved and keeps nothing),
-- or raises the counter after the report commits and then deletes what the report kept for its works. No cover
-- computed from facts since changed survives.
--
-- Unlogged: a cache, lost in a crash (emptied at recovery) and then computed again; no WAL for the writes.
CREATE TABLE licensing_coverage_state (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    generation bigint NOT NULL CHECK (generation > 0),
    catalogue bigint NOT NULL CHECK (catalogue > 0)
);
INSERT INTO licensing_coverage_state (id, generation, catalogue) VALUES (true, 1, 1);

CREATE UNLOGGED TABLE licensing_work_cover (
    licensee_id uuid NOT NULL,  -- no foreign keys: a cache, and Django's flush truncates the catalogue
    work_id uuid NOT NULL,
    generation bigint NOT NULL,
    bits varbit NOT NULL,       -- bit k: the licensee's active agreement ranked k (licensing_ranked_agreements_query)
    reserved text[] NOT NULL,
    PRIMARY KEY (licensee_id, work_id)
);
CREATE INDEX licensing_work_cover_work ON licensing_work_cover (work_id);  -- a work's covers, for every licensee

-- Raise the generation. Statement-level: once per statement whatever its size; a statement that changed no row (an
-- UPDATE or DELETE matching nothing) does not count.
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
    -- every input of licensing_work_cover_query besides the works' facts, and of the agreements' ranking
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

-- Works whose facts changed or went: the catalogue counter raised first (waiting for any report holding the
-- counters' row to commit), then their kept covers deleted, the ones such a report has just kept included. A new
-- work's first facts change nothing kept (no cover of it can exist): inserts do not count.
CREATE FUNCTION licensing_work_facts_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE licensing_coverage_state SET generation = generation + 1, catalogue = catalogue + 1;
    ELSIF TG_OP = 'DELETE' THEN
        IF EXISTS (SELECT 1 FROM old_rows) THEN
            UPDATE licensing_coverage_state SET catalogue = catalogue + 1;
            DELETE FROM licensing_work_cover WHERE work_id IN (SELECT work_id FROM old_rows);
        END IF;
    ELSIF EXISTS (SELECT 1 FROM new_rows) THEN
        UPDATE licensing_coverage_state SET catalogue = catalogue + 1;
        DELETE FROM licensing_work_cover WHERE work_id IN (SELECT work_id FROM new_rows);
    END IF;
    IF TG_OP <> 'TRUNCATE' AND current_setting('transaction_isolation') <> 'read committed' THEN
        -- the DELETE above reads this transaction's snapshot, older than the covers a report may have kept while
        -- this transaction waited for the counters' row: every kept cover falls instead
        UPDATE licensing_coverage_state SET generation = generation + 1;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER licensing_work_facts_cover_update AFTER UPDATE ON licensing_work_facts
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION licensing_work_facts_changed();
CREATE TRIGGER licensing_work_facts_cover_delete AFTER DELETE ON licensing_work_facts
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION licensing_work_facts_changed();
CREATE TRIGGER licensing_work_facts_cover_truncate AFTER TRUNCATE ON licensing_work_facts
FOR EACH STATEMENT EXECUTE FUNCTION licensing_work_facts_changed();

-- 0012's refresh, now writing only the facts that really changed: a refresh of a whole subtree (a share of the
-- series changed) leaves the kept covers of the works whose facts came out the same.
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
    ON CONFLICT (work_id) DO UPDATE SET ancestors = excluded.ancestors, owners = excluded.owners
     WHERE (licensing_work_facts.ancestors, licensing_work_facts.owners)
           IS DISTINCT FROM (excluded.ancestors, excluded.owners);
END
$$;
