DROP TRIGGER IF EXISTS ledger_chainhead_no_truncate ON ledger_chainhead;
DROP TRIGGER IF EXISTS ledger_journaltransaction_no_truncate ON ledger_journaltransaction;
DROP TRIGGER IF EXISTS ledger_posting_no_truncate ON ledger_posting;
DROP FUNCTION IF EXISTS ledger_refuse_truncate();
