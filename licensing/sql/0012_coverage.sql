-- What coverage needs to know of a work besides its id, one row per work, kept by the triggers of 0011 (on shares
-- and on the hierarchy): its ancestors (the scope of a works-scoped agreement or a reservation may name any of them)
-- and its effective rights holders (licensing_work_owner's rows for it). One index probe per work asked about
-- instead of a recursive walk up the hierarchy and a probe of licensing_work_owner.
CREATE TABLE licensing_work_facts (
    work_id uuid PRIMARY KEY,  -- no foreign key, as licensing_work_owner: Django's flush truncates licensing_work
    ancestors uuid[] NOT NULL, -- parent first, root last
    owners uuid[] NOT NULL
);

-- Recompute the owners and facts of some works and of all their descendants.
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

CREATE OR REPLACE FUNCTION licensing_work_owners_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM licensing_refresh_work_owners(ARRAY(SELECT id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        DELETE FROM licensing_work_owner WHERE work_id IN (SELECT id FROM old_rows);
        DELETE FROM licensing_work_facts WHERE work_id IN (SELECT id FROM old_rows);
    ELSIF TG_OP = 'TRUNCATE' THEN
        TRUNCATE licensing_work_owner, licensing_work_facts;
    ELSE
        PERFORM licensing_refresh_work_owners(ARRAY(
            SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE n.parent_id IS DISTINCT FROM o.parent_id
        ));
    END IF;
    RETURN NULL;
END
$$;

-- The existing catalogue.
SELECT licensing_refresh_work_owners(ARRAY(SELECT id FROM licensing_work WHERE parent_id IS NULL));

-- Coverage (RULES.md), set-based and linear: for each (work, use, date, territory) at position ord, the active
-- agreement of the licensee that covers it (the earliest-starting, then the lowest id) and whether a reservation
-- forbids it. A reservation beats every agreement; the caller treats a reserved or uncovered use as not licensed.
--
-- Replaces 0010's version, which ran a correlated subquery and an EXISTS per input row (quadratic at a report's
-- hundreds of thousands of combinations). Here every step is a join the planner can hash:
--   works    the distinct works asked about;
--   facts    each work's ancestors and effective rights holders (licensing_work_facts: one probe per work);
--   anc      each work with itself and its ancestors;
--   ag       the licensee's active agreements that match one of the (use, date, territory) asked about, ranked by
--            (starts_on, id): the rule's order of preference;
--   holders  the rights holders that matter: in the scope of one of those agreements, or reserving all their works;
--   owners   each work's effective rights holders among them;
--   scoped   (work, agreement) pairs whose scope holds the work: catalogue, work or ancestor, or an effective holder;
--   reserved (work, use) pairs under an active reservation: of the work or an ancestor, or of an effective holder
--            reserving all its works;
--   candidates  per work, the agreements whose scope holds it, as a bit string (bit n: the agreement ranked n);
--   fits     per (use, date, territory) asked about, the agreements whose uses, dates and territories match, likewise;
--   and per position, the preferred agreement is the first bit set in both: a hash join per row, no sort, no
--   aggregate over the rows.
-- q is NOT MATERIALIZED so that each use of it reads the source with its statistics (the ingestion's source is an
-- analysed table): the planner then knows how many distinct works and keys there are.

--
-- The query is written once, as text (licensing_coverage_query), and run two ways: by licensing_coverage over
-- arrays (clearances), and by the usage ingestion over its temporary table of resolved events, each row's line as
-- its position. It is run with EXECUTE, planned on each call with the real row counts: an array parameter or a SQL
-- function's generic plan makes the planner assume 10 rows and choose nested loops (2.5 s for 10,000 references
-- instead of 0.15 s).
--
-- source: a relation or parenthesised subquery with columns (ord integer, work_id uuid, use text, on_date date,
-- territory text); licensee: an SQL expression for the licensee's id. Result: (ord, agreement_id, reserved).
-- Run it with enable_mergejoin off: the row estimates of CTEs are rough, and a merge join on a misestimated side
-- (the keys asked about) degenerates into tens of millions of filtered rows; hash joins are right at every size.
CREATE OR REPLACE FUNCTION licensing_coverage_query(source text, licensee text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT format($query$
    WITH q AS NOT MATERIALIZED (
        SELECT s.ord, s.work_id, s.use, s.on_date, s.territory FROM %1$s s
    ), works AS MATERIALIZED (
        SELECT DISTINCT q.work_id FROM q WHERE q.work_id IS NOT NULL
    ), facts AS MATERIALIZED (
        SELECT f.work_id, f.ancestors, f.owners FROM works w JOIN licensing_work_facts f ON f.work_id = w.work_id
    ), anc AS MATERIALIZED (
        SELECT w.work_id, w.work_id AS anc_id FROM works w
        UNION ALL
        SELECT f.work_id, a.id FROM facts f, unnest(f.ancestors) AS a(id)
    ), asked AS MATERIALIZED (
        SELECT DISTINCT q.use, q.on_date, q.territory FROM q
    ), ag AS MATERIALIZED (
        SELECT a.id, a.starts_on, a.ends_on, a.uses, a.territories, a.scope_catalogue,
               row_number() OVER (ORDER BY a.starts_on, a.id) AS rank
          FROM licensing_agreement a
         WHERE a.licensee_id = %2$s AND a.status = 'active'
           AND EXISTS (SELECT 1 FROM asked k
                        WHERE k.use = ANY(a.uses)
                          AND a.starts_on <= k.on_date AND (a.ends_on IS NULL OR a.ends_on >= k.on_date)
                          AND (k.territory = ANY(a.territories) OR '*' = ANY(a.territories)))
    ), holders AS MATERIALIZED (
        SELECT sh.rightsholder_id AS rights_holder_id
          FROM licensing_agreement_scope_rights_holders sh JOIN ag ON ag.id = sh.agreement_id
        UNION
        SELECT r.rights_holder_id FROM licensing_reservation r
         WHERE r.work_id IS NULL AND r.lifted_at IS NULL AND r.uses && ARRAY(SELECT DISTINCT use FROM asked)::varchar[]
    ), owners AS MATERIALIZED (
        SELECT f.work_id, h.id AS rights_holder_id
          FROM facts f, unnest(f.owners) AS h(id)
         WHERE h.id IN (SELECT rights_holder_id FROM holders)
    ), blank AS (
        SELECT repeat('0', count(*)::integer)::varbit AS bits FROM ag
    ), scoped AS (
        SELECT w.work_id, ag.rank FROM works w CROSS JOIN ag WHERE ag.scope_catalogue
        UNION ALL
        SELECT anc.work_id, ag.rank
          FROM anc JOIN licensing_agreement_scope_works sw ON sw.work_id = anc.anc_id
          JOIN ag ON ag.id = sw.agreement_id
        UNION ALL
        SELECT o.work_id, ag.rank
          FROM owners o JOIN licensing_agreement_scope_rights_holders sh ON sh.rightsholder_id = o.rights_holder_id
          JOIN ag ON ag.id = sh.agreement_id
    ), candidates AS MATERIALIZED (
        SELECT s.work_id, bit_or(set_bit(blank.bits, s.rank::integer - 1, 1)) AS bits
          FROM scoped s CROSS JOIN blank GROUP BY s.work_id
    ), fits AS MATERIALIZED (
        SELECT k.use, k.on_date, k.territory,
               coalesce(bit_or(set_bit(blank.bits, ag.rank::integer - 1, 1)), blank.bits) AS bits
          FROM asked k CROSS JOIN blank
          LEFT JOIN ag ON k.use = ANY(ag.uses)
                      AND ag.starts_on <= k.on_date AND (ag.ends_on IS NULL OR ag.ends_on >= k.on_date)
                      AND (k.territory = ANY(ag.territories) OR '*' = ANY(ag.territories))
         GROUP BY k.use, k.on_date, k.territory, blank.bits
    ), reserved AS MATERIALIZED (
        SELECT anc.work_id, u.use
          FROM anc JOIN licensing_reservation r ON r.work_id = anc.anc_id AND r.lifted_at IS NULL,
               unnest(r.uses) AS u(use)
        UNION
        SELECT o.work_id, u.use
          FROM owners o JOIN licensing_reservation r
            ON r.rights_holder_id = o.rights_holder_id AND r.work_id IS NULL AND r.lifted_at IS NULL,
               unnest(r.uses) AS u(use)
    )
    SELECT q.ord, ag.id AS agreement_id, rv.work_id IS NOT NULL AS reserved
      FROM q
      LEFT JOIN candidates c ON c.work_id = q.work_id
      LEFT JOIN fits f ON f.use = q.use AND f.on_date = q.on_date AND f.territory = q.territory
      LEFT JOIN ag ON ag.rank = position(B'1' IN c.bits & f.bits)
      LEFT JOIN reserved rv ON rv.work_id = q.work_id AND rv.use = q.use
    $query$, source, licensee)
$fn$;

CREATE OR REPLACE FUNCTION licensing_coverage(
    p_licensee uuid, p_work uuid[], p_use text[], p_date date[], p_territory text[]
) RETURNS TABLE (ord integer, agreement_id uuid, reserved boolean)
LANGUAGE plpgsql STABLE
SET enable_mergejoin = off  -- see licensing_coverage_query: every join here is best hashed
AS $fn$
BEGIN
    RETURN QUERY EXECUTE licensing_coverage_query(
        '(SELECT t.ord::integer AS ord, t.work_id, t.use, t.on_date, t.territory
            FROM unnest($2, $3, $4, $5) WITH ORDINALITY AS t(work_id, use, on_date, territory, ord))',
        '$1'
    ) USING p_licensee, p_work, p_use, p_date, p_territory;
END
$fn$;
