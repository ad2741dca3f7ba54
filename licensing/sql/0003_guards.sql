-- Catalogue and agreement invariants kept by PostgreSQL (loaded by migration 0003), plus bigram search indexes.

-- Bigram search without any extension (the embedded PostgreSQL has no contrib modules): the distinct upper-cased
-- two-character substrings of a text. `bigrams(title) @> bigrams(query)` narrows a substring search to the GIN
-- index; the caller rechecks with ILIKE. Works for Japanese, which has no spaces to split words on.
CREATE FUNCTION licensing_bigrams(t text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT substr(s.u, i, 2)), '{}'::text[])
      FROM (SELECT upper(t) AS u) s, generate_series(1, char_length(s.u) - 1) AS i
$$;

CREATE INDEX licensing_work_title_bigrams ON licensing_work USING gin (licensing_bigrams(title));
CREATE INDEX licensing_work_title_en_bigrams ON licensing_work USING gin (licensing_bigrams(title_en));
CREATE INDEX licensing_holder_name_bigrams ON licensing_rightsholder USING gin (licensing_bigrams(name));
CREATE INDEX licensing_holder_kana_bigrams ON licensing_rightsholder USING gin (licensing_bigrams(name_kana));

-- A work's shares sum to exactly 100.00 (or it has none and inherits its parent's). Checked at COMMIT, so shares
-- can be rewritten row by row inside one transaction.
CREATE FUNCTION licensing_check_share_sum() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    w uuid;
    total numeric;
BEGIN
    FOR w IN
        SELECT DISTINCT x FROM unnest(ARRAY[
            CASE WHEN TG_OP <> 'INSERT' THEN OLD.work_id END,
            CASE WHEN TG_OP <> 'DELETE' THEN NEW.work_id END
        ]) AS x WHERE x IS NOT NULL
    LOOP
        SELECT sum(share) INTO total FROM licensing_share WHERE work_id = w;
        IF total IS NOT NULL AND total <> 100 THEN
            RAISE EXCEPTION 'the shares of work % sum to %, not 100.00', w, total
                USING ERRCODE = 'check_violation', CONSTRAINT = 'licensing_share_sum_100';
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER licensing_share_sum_100
    AFTER INSERT OR UPDATE OR DELETE ON licensing_share
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION licensing_check_share_sum();

-- The work hierarchy has no cycles.
CREATE FUNCTION licensing_check_work_parent() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.parent_id IS NOT NULL AND EXISTS (
        WITH RECURSIVE up(id, depth) AS (
            SELECT NEW.parent_id, 1
            UNION ALL
            SELECT w.parent_id, up.depth + 1 FROM licensing_work w JOIN up ON w.id = up.id
             WHERE w.parent_id IS NOT NULL AND up.depth < 100
        )
        SELECT 1 FROM up WHERE up.id = NEW.id
    ) THEN
        RAISE EXCEPTION 'work % cannot be its own ancestor', NEW.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'licensing_work_no_cycle';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER licensing_work_no_cycle
    BEFORE UPDATE OF parent_id ON licensing_work
    FOR EACH ROW EXECUTE FUNCTION licensing_check_work_parent();

-- Versions of one agreement (licensee + reference) never overlap in time.
CREATE FUNCTION licensing_check_agreement_versions() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(NEW.licensee_id::text || '/' || NEW.reference, 0));
    IF EXISTS (
        SELECT 1 FROM licensing_agreement a
         WHERE a.licensee_id = NEW.licensee_id AND a.reference = NEW.reference AND a.id <> NEW.id
           AND daterange(a.starts_on, a.ends_on, '[]') && daterange(NEW.starts_on, NEW.ends_on, '[]')
    ) THEN
        RAISE EXCEPTION 'agreement % overlaps another version of itself in time', NEW.reference
            USING ERRCODE = 'exclusion_violation', CONSTRAINT = 'licensing_agreement_versions_disjoint';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER licensing_agreement_versions_disjoint
    BEFORE INSERT OR UPDATE OF licensee_id, reference, starts_on, ends_on ON licensing_agreement
    FOR EACH ROW EXECUTE FUNCTION licensing_check_agreement_versions();

-- Statements were computed under a frozen agreement version: its terms and scope never change again. Only its
-- status and end date may (to end it when a new version takes over).
CREATE FUNCTION licensing_refuse_frozen_agreement() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.frozen_at IS NOT NULL THEN
            RAISE EXCEPTION 'agreement % is frozen (statements exist): it cannot be deleted', OLD.id
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.frozen_at IS NOT NULL AND (
        NEW.licensee_id, NEW.reference, NEW.version, NEW.currency, NEW.starts_on, NEW.territories, NEW.uses,
        NEW.scope_catalogue, NEW.commission, NEW.frozen_at, NEW.supersedes_id
    ) IS DISTINCT FROM (
        OLD.licensee_id, OLD.reference, OLD.version, OLD.currency, OLD.starts_on, OLD.territories, OLD.uses,
        OLD.scope_catalogue, OLD.commission, OLD.frozen_at, OLD.supersedes_id
    ) THEN
        RAISE EXCEPTION 'agreement % is frozen (statements exist): change it with a new version', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER licensing_agreement_frozen
    BEFORE UPDATE OR DELETE ON licensing_agreement
    FOR EACH ROW EXECUTE FUNCTION licensing_refuse_frozen_agreement();

CREATE FUNCTION licensing_refuse_frozen_agreement_part() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    agreement uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.agreement_id ELSE NEW.agreement_id END;
BEGIN
    IF EXISTS (SELECT 1 FROM licensing_agreement WHERE id = agreement AND frozen_at IS NOT NULL)
       OR (TG_OP = 'UPDATE' AND EXISTS (
           SELECT 1 FROM licensing_agreement WHERE id = OLD.agreement_id AND frozen_at IS NOT NULL))
    THEN
        RAISE EXCEPTION 'agreement % is frozen (statements exist): its % cannot change', agreement, TG_TABLE_NAME
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;

CREATE TRIGGER licensing_term_frozen
    BEFORE INSERT OR UPDATE OR DELETE ON licensing_term
    FOR EACH ROW EXECUTE FUNCTION licensing_refuse_frozen_agreement_part();
CREATE TRIGGER licensing_scope_works_frozen
    BEFORE INSERT OR UPDATE OR DELETE ON licensing_agreement_scope_works
    FOR EACH ROW EXECUTE FUNCTION licensing_refuse_frozen_agreement_part();
CREATE TRIGGER licensing_scope_holders_frozen
    BEFORE INSERT OR UPDATE OR DELETE ON licensing_agreement_scope_rights_holders
    FOR EACH ROW EXECUTE FUNCTION licensing_refuse_frozen_agreement_part();
