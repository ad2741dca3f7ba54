DROP TRIGGER IF EXISTS licensing_period_final_in_order ON licensing_reportingperiod;
DROP FUNCTION IF EXISTS licensing_period_final_in_order();
