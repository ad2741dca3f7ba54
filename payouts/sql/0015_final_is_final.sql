-- Final statements and invoices never change (RULES.md 8: corrections are reversals plus new postings), whatever
-- writes the rows: PostgreSQL refuses it, not only the engine's `WHERE status = 'draft'`. TRUNCATE, which passes
-- by row triggers, is refused too (a test database opts out as for the ledger: ledger.allow_truncate, set by
-- tests/conftest.py).

-- a statement, once final: its id, run, amounts, holder, period and currency are fixed; it goes from final to paid (a
-- payout batch pays it) and back (the transfer returned), never to draft; it is never deleted
CREATE FUNCTION payouts_statement_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN
            RAISE EXCEPTION 'statement % is %: it is never deleted', OLD.id, OLD.status
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status <> 'draft' AND (
       NEW.status = 'draft'
       OR (NEW.id, NEW.run_id, NEW.rights_holder_id, NEW.period, NEW.currency, NEW.gross, NEW.commission,
           NEW.net_royalties, NEW.consumption_tax, NEW.withholding_tax, NEW.carried_forward, NEW.payable,
           NEW.carried_out, NEW.registration_number, NEW.finalized_at)
          IS DISTINCT FROM
          (OLD.id, OLD.run_id, OLD.rights_holder_id, OLD.period, OLD.currency, OLD.gross, OLD.commission,
           OLD.net_royalties, OLD.consumption_tax, OLD.withholding_tax, OLD.carried_forward, OLD.payable,
           OLD.carried_out, OLD.registration_number, OLD.finalized_at)) THEN
        RAISE EXCEPTION 'statement % is %: it never changes (only its payment: paid, or returned)', OLD.id, OLD.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER payouts_statement_final BEFORE UPDATE OR DELETE ON payouts_statement
    FOR EACH ROW EXECUTE FUNCTION payouts_statement_final();

-- an invoice, once final, never changes and is never deleted
CREATE FUNCTION payouts_invoice_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status <> 'draft' THEN
        RAISE EXCEPTION 'invoice % is %: it never changes', OLD.id, OLD.status USING ERRCODE = 'check_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;
CREATE TRIGGER payouts_invoice_final BEFORE UPDATE OR DELETE ON payouts_invoice
    FOR EACH ROW EXECUTE FUNCTION payouts_invoice_final();

-- the lines of a statement or invoice that is not a draft: none added, changed or removed. Row triggers on the
-- partitioned lines table are cloned onto each partition, including those the engine attaches (filled apart, as
-- drafts, before they are attached: those inserts do not pass here).
CREATE FUNCTION payouts_statementline_of_final() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    s record;
BEGIN
    FOR s IN SELECT st.id, st.status FROM payouts_statement st
              WHERE st.status <> 'draft'
                AND st.id IN (CASE WHEN TG_OP <> 'INSERT' THEN OLD.statement_id END,
                              CASE WHEN TG_OP <> 'DELETE' THEN NEW.statement_id END)
    LOOP
        RAISE EXCEPTION '% of a line refused: statement % is %, its lines never change', TG_OP, s.id, s.status
            USING ERRCODE = 'check_violation';
    END LOOP;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;
CREATE TRIGGER payouts_statementline_of_final BEFORE INSERT OR UPDATE OR DELETE ON payouts_statementline
    FOR EACH ROW EXECUTE FUNCTION payouts_statementline_of_final();

CREATE FUNCTION payouts_invoiceline_of_final() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    i record;
BEGIN
    FOR i IN SELECT iv.id, iv.status FROM payouts_invoice iv
              WHERE iv.status <> 'draft'
                AND iv.id IN (CASE WHEN TG_OP <> 'INSERT' THEN OLD.invoice_id END,
                              CASE WHEN TG_OP <> 'DELETE' THEN NEW.invoice_id END)
    LOOP
        RAISE EXCEPTION '% of a line refused: invoice % is %, its lines never change', TG_OP, i.id, i.status
            USING ERRCODE = 'check_violation';
    END LOOP;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;
CREATE TRIGGER payouts_invoiceline_of_final BEFORE INSERT OR UPDATE OR DELETE ON payouts_invoiceline
    FOR EACH ROW EXECUTE FUNCTION payouts_invoiceline_of_final();

CREATE FUNCTION payouts_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('ledger.allow_truncate', true), '') <> 'on' THEN
        RAISE EXCEPTION 'TRUNCATE of % refused: final statements and invoices never change', TG_TABLE_NAME
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER payouts_statement_no_truncate BEFORE TRUNCATE ON payouts_statement
    FOR EACH STATEMENT EXECUTE FUNCTION payouts_refuse_truncate();
CREATE TRIGGER payouts_invoice_no_truncate BEFORE TRUNCATE ON payouts_invoice
    FOR EACH STATEMENT EXECUTE FUNCTION payouts_refuse_truncate();
CREATE TRIGGER payouts_statementline_no_truncate BEFORE TRUNCATE ON payouts_statementline
    FOR EACH STATEMENT EXECUTE FUNCTION payouts_refuse_truncate();
CREATE TRIGGER payouts_invoiceline_no_truncate BEFORE TRUNCATE ON payouts_invoiceline
    FOR EACH STATEMENT EXECUTE FUNCTION payouts_refuse_truncate();
