-- TRUNCATE bypasses row triggers: refuse it on the ledger too. A test database that must be emptied between tests
-- opts out with `ALTER DATABASE <test db> SET ledger.allow_truncate = 'on'` (tests/conftest.py); production never.
CREATE FUNCTION ledger_refuse_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('ledger.allow_truncate', true), '') <> 'on' THEN
        RAISE EXCEPTION 'TRUNCATE of % refused: posted ledger entries are immutable', TG_TABLE_NAME
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER ledger_posting_no_truncate BEFORE TRUNCATE ON ledger_posting
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_truncate();
CREATE TRIGGER ledger_journaltransaction_no_truncate BEFORE TRUNCATE ON ledger_journaltransaction
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_truncate();
CREATE TRIGGER ledger_chainhead_no_truncate BEFORE TRUNCATE ON ledger_chainhead
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_truncate();
