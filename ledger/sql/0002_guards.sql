-- Ledger invariants kept by PostgreSQL itself, whatever code or raw SQL writes (loaded by migration 0002).
-- Every refusal raises an integrity-class SQLSTATE, so Django and psycopg report it as an IntegrityError.

-- A posting's currency is its account's currency.
ALTER TABLE ledger_posting
    ADD CONSTRAINT ledger_posting_currency_of_account
    FOREIGN KEY (account_id, currency) REFERENCES ledger_account (id, currency);

-- Every journal transaction balances per currency. Deferred: checked at COMMIT, once all its postings are in.
CREATE FUNCTION ledger_check_balanced() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT currency, sum(amount) AS total INTO bad
      FROM ledger_posting
     WHERE transaction_id = NEW.transaction_id
     GROUP BY currency
    HAVING sum(amount) <> 0
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal transaction % does not balance in %: its postings sum to %',
            NEW.transaction_id, bad.currency, bad.total
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_posting_balanced';
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER ledger_posting_balanced
    AFTER INSERT ON ledger_posting
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();

-- A journal transaction has at least two postings (checked at COMMIT too).
CREATE FUNCTION ledger_check_has_postings() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(*) FROM ledger_posting WHERE transaction_id = NEW.id) < 2 THEN
        RAISE EXCEPTION 'journal transaction % has fewer than two postings', NEW.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_transaction_has_postings';
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER ledger_transaction_has_postings
    AFTER INSERT ON ledger_journaltransaction
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_has_postings();

-- Posted history is immutable: corrections are reversals plus new postings.
CREATE FUNCTION ledger_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% of % refused: posted ledger entries are immutable (post a reversal instead)',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER ledger_posting_immutable
    BEFORE UPDATE OR DELETE ON ledger_posting
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

CREATE TRIGGER ledger_journaltransaction_immutable
    BEFORE UPDATE OR DELETE ON ledger_journaltransaction
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

-- The chain head only moves forward, and only to a transaction that exists.
CREATE FUNCTION ledger_chainhead_forward() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW.last_id < OLD.last_id THEN
        RAISE EXCEPTION 'the ledger chain head only moves forward' USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.last_id > 0 AND NOT EXISTS (
        SELECT 1 FROM ledger_journaltransaction WHERE id = NEW.last_id AND hash = NEW.last_hash
    ) THEN
        RAISE EXCEPTION 'the ledger chain head must name the last transaction and its hash'
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER ledger_chainhead_forward
    BEFORE UPDATE OR DELETE ON ledger_chainhead
    FOR EACH ROW EXECUTE FUNCTION ledger_chainhead_forward();

INSERT INTO ledger_chainhead (id, last_id, last_hash) VALUES (1, 0, repeat('0', 64));
