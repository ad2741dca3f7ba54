-- The month's partition, made without holding up the usage table.
-- CREATE TABLE … PARTITION OF takes an ACCESS EXCLUSIVE lock on licensing_usageevent: queued behind a long reader (a
-- statement run), it held up every report and query that came after it. Attaching a partition takes SHARE UPDATE
-- EXCLUSIVE on the parent (readers and writers go on) unless the table has a default partition, which ATTACH must
-- lock exclusively and scan. The default partition goes: every report makes its month's partition before its rows
-- (licensing_usage_partition), so it never held any; rows found there (written by hand) move to their months.
CREATE OR REPLACE FUNCTION licensing_usage_partition_attached(name text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT c.relispartition FROM pg_class c WHERE c.oid = to_regclass(name)), false)
$$;

DROP FUNCTION licensing_usage_partition(date);
-- wait: the longest wait for a lock (a PostgreSQL duration; NULL: the session's lock_timeout), then 55P03.
CREATE FUNCTION licensing_usage_partition(p date, wait text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    name text := format('licensing_usageevent_%s', to_char(p, 'YYYY_MM'));
    upto date := (p + interval '1 month')::date;
    kept text := current_setting('lock_timeout');
BEGIN
    IF extract(day FROM p) <> 1 THEN
        RAISE EXCEPTION 'a usage period starts on the first of a month, not %', p;
    END IF;
    IF licensing_usage_partition_attached(name) THEN  -- the common case: no lock at all
        RETURN name;
    END IF;
    IF wait IS NOT NULL THEN
        PERFORM set_config('lock_timeout', wait, true);
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('licensing_usage_partition'));
    IF to_regclass(name) IS NULL THEN
        -- built apart with the constraint that proves its range, so that ATTACH does not scan it; then the
        -- constraint, redundant with the partition's bounds, goes
        EXECUTE format('CREATE TABLE %I (LIKE licensing_usageevent INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (period IS NOT NULL AND period >= %L AND period < %L)',
                       name, name || '_range', p, upto);
        EXECUTE format('ALTER TABLE licensing_usageevent ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       name, p, upto);
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', name, name || '_range');
    ELSIF NOT licensing_usage_partition_attached(name) THEN
        -- a table of that name left detached (a partition built apart whose attachment failed): attached as it is,
        -- PostgreSQL checking that its rows belong to the month
        EXECUTE format('ALTER TABLE licensing_usageevent ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       name, p, upto);
    END IF;
    PERFORM set_config('lock_timeout', kept, true);
    RETURN name;
END
$$;

DO $$
DECLARE
    month date;
BEGIN
    IF to_regclass('licensing_usageevent_default') IS NOT NULL THEN
        ALTER TABLE licensing_usageevent DETACH PARTITION licensing_usageevent_default;
        FOR month IN SELECT DISTINCT period FROM licensing_usageevent_default LOOP
            PERFORM licensing_usage_partition(month);
        END LOOP;
        INSERT INTO licensing_usageevent SELECT * FROM licensing_usageevent_default;
        DROP TABLE licensing_usageevent_default;
    END IF;
END
$$;
