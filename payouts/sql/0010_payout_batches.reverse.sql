DROP TRIGGER IF EXISTS payouts_payoutevent_append_only ON payouts_payoutevent;
DROP FUNCTION IF EXISTS payouts_payoutevent_append_only();
DROP TRIGGER IF EXISTS payouts_payoutitem_fixed ON payouts_payoutitem;
DROP FUNCTION IF EXISTS payouts_payoutitem_fixed();
DROP TRIGGER IF EXISTS payouts_payoutitem_guard ON payouts_payoutitem;
DROP FUNCTION IF EXISTS payouts_payoutitem_guard();
ALTER TABLE payouts_payoutitem DROP CONSTRAINT IF EXISTS payouts_payoutitem_statement_currency,
                               DROP CONSTRAINT IF EXISTS payouts_payoutitem_batch_currency;
