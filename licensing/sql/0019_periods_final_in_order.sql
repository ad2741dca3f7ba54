-- Months become final in order (payouts.services checks it too, with messages for people): once a month is final,
-- the next to become final is the month after it, never an earlier one, and a final month never opens again. A month
-- skipped would never bill its flat fees and guarantees; an earlier one made final after a later one would count
-- its carry-forward and advance a second time.
CREATE FUNCTION licensing_period_final_in_order() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.status = 'final' AND NEW.status IS DISTINCT FROM 'final' THEN
        RAISE EXCEPTION 'period % is final: it never opens again', OLD.period USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.status = 'final' AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM 'final') THEN
        -- one month at a time: the next one waits for this one's commit, and sees it
        PERFORM pg_advisory_xact_lock(hashtextextended('licensing_period_final', 0));
        IF EXISTS (SELECT 1 FROM licensing_reportingperiod p WHERE p.status = 'final' AND p.period > NEW.period) THEN
            RAISE EXCEPTION 'period %: a later period is final', NEW.period USING ERRCODE = 'check_violation';
        END IF;
        IF EXISTS (SELECT 1 FROM licensing_reportingperiod p WHERE p.status = 'final' AND p.period < NEW.period)
           AND NOT EXISTS (SELECT 1 FROM licensing_reportingperiod p
                            WHERE p.status = 'final' AND p.period = (NEW.period - interval '1 month')::date) THEN
            RAISE EXCEPTION 'period %: the month before is not final (months become final one after the other)',
                NEW.period USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER licensing_period_final_in_order BEFORE INSERT OR UPDATE OF status ON licensing_reportingperiod
FOR EACH ROW EXECUTE FUNCTION licensing_period_final_in_order();
