-- A reservation counts while its rights holder holds rights in the line of the work (RULES.md: "a reservation of the
-- use by a rights holder of the work (or of an ancestor work) beats every agreement"): reservation r applies to
-- work W when r names W or an ancestor of W, or names no work (all its holder's works), and r's holder is an
-- effective rights holder of W or of an ancestor of W. So a publisher reserving all its works reaches the volumes of
-- its series that have shares of their own, and a work reservation stops counting once its holder's share has moved
-- to someone else (it comes back if the share does).
--
-- licensing_work_facts keeps those holders per work: lineage_owners, the effective rights holders of the work and of
-- its ancestors. A work's effective holders are the holders of its own shares or of its nearest ancestor's that has
-- some, so over a line they are the holders of a share of the work or of one of its ancestors: that is how the
-- column is computed (one index probe of licensing_share per work, with the ancestors the facts already hold).
-- Kept by the same refresh as the owners and ancestors (0011/0012's triggers: shares, hierarchy moves with their
-- whole subtree, new works, deletions).
ALTER TABLE licensing_work_facts ADD COLUMN lineage_owners uuid[] NOT NULL DEFAULT '{}';
UPDATE licensing_work_facts f
   SET lineage_owners = ARRAY(SELECT DISTINCT s.rights_holder_id FROM licensing_share s
                               WHERE s.work_id = ANY(f.work_id || f.ancestors) ORDER BY 1);
ALTER TABLE licensing_work_facts ALTER COLUMN lineage_owners DROP DEFAULT;  -- every row written says what it is

-- 0012's refresh, with lineage_owners.
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
    -- handed down the subtree level by level; owners: the effective shares, computed once for both tables;
    -- lineage owners: the holders of a share of the work or of one of its ancestors
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
    INSERT INTO licensing_work_facts (work_id, ancestors, owners, lineage_owners)
    SELECT d.id, d.ancestors, coalesce(o.owners, '{}'),
           ARRAY(SELECT DISTINCT s.rights_holder_id FROM licensing_share s
                  WHERE s.work_id = ANY(d.id || d.ancestors) ORDER BY 1)
      FROM down d
      LEFT JOIN (SELECT es.work_id, array_agg(es.rights_holder_id ORDER BY es.rights_holder_id) AS owners
                   FROM es GROUP BY es.work_id) o ON o.work_id = d.id
    ON CONFLICT (work_id) DO UPDATE
        SET ancestors = excluded.ancestors, owners = excluded.owners, lineage_owners = excluded.lineage_owners;
END
$$;

-- 0017's cover query, with reservations matched against each work's lineage owners. Per work: its candidate
-- agreements (catalogue-scoped ones, the ones naming the work or one of its ancestors, the ones naming one of its
-- effective rights holders) and its reserved uses (the reservations of the work or an ancestor, or of all their
-- holder's works, whose holder is one of its lineage owners). Every step a join the planner can hash, but one:
--   facts    each work's ancestors, effective rights holders and lineage owners (licensing_work_facts: one probe
--            per work);
--   anc      each work with itself and its ancestors;
--   holders  the rights holders that matter: in the scope of one of the agreements, or reserving all their works;
--   lineage  each work's lineage owners among them, in one pass over the facts (its effective holders are among
--            its lineage owners: owns marks them, for the agreements' scopes);
--   named    each work with the reservations of it or of an ancestor (found through anc, as in 0017);
--   reserved those of them whose holder is among the work's lineage owners, and the holder-wide reservations of
--            its lineage owners. The first check is one probe of licensing_work_facts' primary key per (work,
--            reservation) pair, a LATERAL subquery behind OFFSET 0 on a materialized named: there are few pairs,
--            and the row estimates of the CTEs are rough (joined, the planner hashed all the facts for 700 pairs, or
--            probed the reservations of every work's lineage owners).
-- Measured against 0017's on 200,000 works (the bench's catalogue): a clearance of 10,000 references ~3 % slower,
-- the covers of a usage report's 100,000 new works ~10 % (the facts are wider); same answers there, as none of its
-- works with a parent has shares of its own.
CREATE OR REPLACE FUNCTION licensing_work_cover_query(works text, ag text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT format($query$
    WITH works AS MATERIALIZED (
        SELECT w.work_id FROM %1$s w
    ), base AS MATERIALIZED (
        SELECT z.bits AS zero,
               coalesce((SELECT bit_or(set_bit(z.bits, a.rank::integer - 1, 1)) FROM %2$s a WHERE a.scope_catalogue),
                        z.bits) AS catalogue
          FROM (SELECT repeat('0', count(*)::integer)::varbit AS bits FROM %2$s) z
    ), facts AS MATERIALIZED (
        SELECT f.work_id, f.ancestors, f.owners, f.lineage_owners
          FROM works w JOIN licensing_work_facts f ON f.work_id = w.work_id
    ), anc AS MATERIALIZED (
        SELECT w.work_id, w.work_id AS anc_id FROM works w
        UNION ALL
        SELECT f.work_id, unnest(f.ancestors) FROM facts f
    ), holders AS MATERIALIZED (
        SELECT sh.rightsholder_id AS id
          FROM licensing_agreement_scope_rights_holders sh JOIN %2$s a ON a.id = sh.agreement_id
        UNION
        SELECT r.rights_holder_id FROM licensing_reservation r WHERE r.work_id IS NULL AND r.lifted_at IS NULL
    ), lineage AS MATERIALIZED (
        SELECT o.work_id, o.rights_holder_id, o.rights_holder_id = ANY(o.owners) AS owns
          FROM (SELECT f.work_id, f.owners, unnest(f.lineage_owners) AS rights_holder_id FROM facts f) o
         WHERE o.rights_holder_id IN (SELECT id FROM holders)
    ), scoped AS (
        SELECT anc.work_id, a.rank
          FROM anc JOIN licensing_agreement_scope_works sw ON sw.work_id = anc.anc_id
          JOIN %2$s a ON a.id = sw.agreement_id
        UNION ALL
        SELECT l.work_id, a.rank
          FROM lineage l JOIN licensing_agreement_scope_rights_holders sh ON sh.rightsholder_id = l.rights_holder_id
          JOIN %2$s a ON a.id = sh.agreement_id
         WHERE l.owns
    ), candidates AS (
        SELECT s.work_id, bit_or(set_bit(base.zero, s.rank::integer - 1, 1)) AS bits
          FROM scoped s CROSS JOIN base GROUP BY s.work_id
    ), named AS MATERIALIZED (
        SELECT anc.work_id, r.rights_holder_id, r.uses
          FROM anc JOIN licensing_reservation r ON r.work_id = anc.anc_id AND r.lifted_at IS NULL
    ), reserved AS (
        SELECT v.work_id, array_agg(DISTINCT v.use)::text[] AS uses
          FROM (SELECT n.work_id, u.use
                  FROM named n CROSS JOIN LATERAL (
                           SELECT FROM licensing_work_facts f  -- its primary key, probed for each of the few pairs
                            WHERE f.work_id = n.work_id AND n.rights_holder_id = ANY(f.lineage_owners) OFFSET 0
                       ) held,
                       unnest(n.uses) AS u(use)
                UNION ALL
                SELECT l.work_id, u.use
                  FROM lineage l JOIN licensing_reservation r
                    ON r.rights_holder_id = l.rights_holder_id AND r.work_id IS NULL AND r.lifted_at IS NULL,
                       unnest(r.uses) AS u(use)) v
         GROUP BY v.work_id
    )
    SELECT w.work_id, coalesce(c.bits | base.catalogue, base.catalogue) AS bits,
           coalesce(r.uses, '{}'::text[]) AS reserved
      FROM works w CROSS JOIN base
      LEFT JOIN candidates c ON c.work_id = w.work_id
      LEFT JOIN reserved r ON r.work_id = w.work_id
    $query$, works, ag)
$fn$;

-- The works API's and the admin's `reserved` flag: the works (of the given ones) under an active reservation of any
-- use (or of use_filter), by the rule above, read from the facts (0004's version walked the hierarchy and matched
-- holder-wide reservations against the work's own effective holders only, and work reservations against no holder).
CREATE OR REPLACE FUNCTION licensing_reserved_works(work_ids uuid[], use_filter text DEFAULT NULL)
RETURNS TABLE (work_id uuid)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT f.work_id FROM licensing_work_facts f
     WHERE f.work_id = ANY(work_ids)
       AND (EXISTS (SELECT 1 FROM licensing_reservation r
                     WHERE r.work_id = ANY(f.work_id || f.ancestors) AND r.lifted_at IS NULL
                       AND r.rights_holder_id = ANY(f.lineage_owners)
                       AND (use_filter IS NULL OR use_filter = ANY(r.uses)))
            OR EXISTS (SELECT 1 FROM licensing_reservation r
                        WHERE r.work_id IS NULL AND r.lifted_at IS NULL
                          AND r.rights_holder_id = ANY(f.lineage_owners)
                          AND (use_filter IS NULL OR use_filter = ANY(r.uses))))
$$;
