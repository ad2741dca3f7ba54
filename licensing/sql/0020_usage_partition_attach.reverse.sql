CREATE TABLE licensing_usageevent_default PARTITION OF licensing_usageevent DEFAULT;

DROP FUNCTION licensing_usage_partition(date, text);
DROP FUNCTION licensing_usage_partition_attached(text);
CREATE FUNCTION licensing_usage_partition(p date) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    name text := format('licensing_usageevent_%s', to_char(p, 'YYYY_MM'));
BEGIN
    IF extract(day FROM p) <> 1 THEN
        RAISE EXCEPTION 'a usage period starts on the first of a month, not %', p;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('licensing_usage_partition'));
    IF to_regclass(name) IS NULL THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF licensing_usageevent FOR VALUES FROM (%L) TO (%L)',
                       name, p, (p + interval '1 month')::date);
    END IF;
    RETURN name;
END
$$;
