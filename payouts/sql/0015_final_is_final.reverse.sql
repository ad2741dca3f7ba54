DROP TRIGGER IF EXISTS payouts_invoiceline_of_final ON payouts_invoiceline;
DROP FUNCTION IF EXISTS payouts_invoiceline_of_final();
DROP TRIGGER IF EXISTS payouts_statementline_of_final ON payouts_statementline;
DROP FUNCTION IF EXISTS payouts_statementline_of_final();
DROP TRIGGER IF EXISTS payouts_invoice_final ON payouts_invoice;
DROP FUNCTION IF EXISTS payouts_invoice_final();
DROP TRIGGER IF EXISTS payouts_statement_final ON payouts_statement;
DROP FUNCTION IF EXISTS payouts_statement_final();
