-- Payout batches (payouts/models.py): what PostgreSQL keeps true whatever writes the rows.

-- an item is paid in its batch's currency, which is its statement's
ALTER TABLE payouts_payoutitem
    ADD CONSTRAINT payouts_payoutitem_batch_currency FOREIGN KEY (batch_id, currency)
        REFERENCES payouts_payoutbatch (id, currency),
    ADD CONSTRAINT payouts_payoutitem_statement_currency FOREIGN KEY (statement_id, currency)
        REFERENCES payouts_statement (id, currency);

-- an item is made for a final statement that is paid, not carried forward: to its own holder, for its payable
CREATE FUNCTION payouts_payoutitem_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    s payouts_statement%ROWTYPE;
BEGIN
    SELECT * INTO s FROM payouts_statement WHERE id = NEW.statement_id;
    IF s.status <> 'final' OR s.carried_out THEN
        RAISE EXCEPTION 'statement % is not a final statement to pay (status %, carried forward %)',
            NEW.statement_id, s.status, s.carried_out USING ERRCODE = 'check_violation';
    END IF;
    IF s.rights_holder_id <> NEW.rights_holder_id OR s.payable <> NEW.amount THEN
        RAISE EXCEPTION 'payout item for statement % must pay its holder its payable (%)', NEW.statement_id, s.payable
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER payouts_payoutitem_guard BEFORE INSERT ON payouts_payoutitem
    FOR EACH ROW EXECUTE FUNCTION payouts_payoutitem_guard();

-- what an item pays never changes once written: only its status and the dates of what happened to it
CREATE FUNCTION payouts_payoutitem_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.batch_id, NEW.statement_id, NEW.rights_holder_id, NEW.currency, NEW.amount, NEW.withholding_tax,
        NEW.bank_code, NEW.branch_code, NEW.account_type, NEW.account_number, NEW.account_holder_kana)
       IS DISTINCT FROM
       (OLD.batch_id, OLD.statement_id, OLD.rights_holder_id, OLD.currency, OLD.amount, OLD.withholding_tax,
        OLD.bank_code, OLD.branch_code, OLD.account_type, OLD.account_number, OLD.account_holder_kana) THEN
        RAISE EXCEPTION 'payout item %: what it pays, to whom and where is fixed once written', OLD.id
            USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.status IN ('blocked', 'cancelled', 'returned') AND NEW.status <> OLD.status THEN
        RAISE EXCEPTION 'payout item % is %: it is closed', OLD.id, OLD.status USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER payouts_payoutitem_fixed BEFORE UPDATE ON payouts_payoutitem
    FOR EACH ROW EXECUTE FUNCTION payouts_payoutitem_fixed();

-- the audit history is append-only
CREATE FUNCTION payouts_payoutevent_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% of payout history refused: it is append-only', TG_OP USING ERRCODE = 'check_violation';
END
$$;
CREATE TRIGGER payouts_payoutevent_append_only BEFORE UPDATE OR DELETE ON payouts_payoutevent
    FOR EACH ROW EXECUTE FUNCTION payouts_payoutevent_append_only();
