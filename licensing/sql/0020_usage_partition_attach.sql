-- The month's partition, made without holding up the usage table. CREATE TABLE … PARTITION OF takes an ACCESS
-- EXCLUSIVE lock on licensing_usageevent: queued behind a long reader (a statement run), it held up every report and
-- query that came after it. The table is now built apart, with the constraint that proves its range, and attached:
-- ATTACH PARTITION takes SHARE UPDATE EXCLUSIVE on the parent (readers and writers go on) and skips the scan of the
-- new table (the constraint proves it), then the constraint, now redundant, goes. The default partition is locked
-- and scanned for rows of the month (it holds none: every report makes its month's partition first).
CREATE OR REPLACE FUNCTION licensing_usage_partition(p date) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    name text := format('licensing_usageevent_%s', to_char(p, 'YYYY_MM'));
    upto date := (p + interval '1 month')::date;
BEGIN
    IF extract(day FROM p) <> 1 THEN
        RAISE EXCEPTION 'a usage period starts on the first of a month, not %', p;
    END IF;
    IF to_regclass(name) IS NOT NULL THEN  -- the common case: no lock at all
        RETURN name;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('licensing_usage_partition'));
    IF to_regclass(name) IS NULL THEN
        EXECUTE format('CREATE TABLE %I (LIKE licensing_usageevent INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (period IS NOT NULL AND period >= %L AND period < %L)',
                       name, name || '_range', p, upto);
        EXECUTE format('ALTER TABLE licensing_usageevent ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       name, p, upto);
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', name, name || '_range');
    END IF;
    RETURN name;
END
$$;
