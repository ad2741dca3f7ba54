-- A rights holder's part of an amount split among a work's shares by the largest-remainder method (RULES.md, 3):
-- `shares` are every holder's share of the work in hundredths of a percent (10000 = 100.00 %), in the order that
-- breaks ties (the larger share first, then the lower rights-holder id); `pos` is this holder's place in it (from
-- 1). Each holder takes floor(amount × share / 10000); the units left over go one each to the largest remainders
-- (amount × share mod 10000), ties to the earlier place. A negative amount is split as its magnitude, then negated:
-- the parts of every holder add up to the amount exactly.
--
-- Works of up to twelve holders are computed by an expression the planner inlines into the query (one for up to
-- four holders, nearly every work, at half the cost per part of the other; one for up to twelve, production
-- committees), so that the engine splits millions of lines in one hash join without sorting them by line (a window
-- function ranking the holders of each line did); works of more holders by the general function below, a call per
-- part (about ten times slower).
-- In each expression, shares[j] past the work's holders is NULL: its comparison and floor count as 0.

CREATE FUNCTION payouts_split_part_any(amount bigint, shares bigint[], pos int) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT sign(amount) * (abs(amount) * shares[pos] / 10000 + (
    (SELECT 1 + count(*) FROM unnest(shares) WITH ORDINALITY AS u(share, place)
      WHERE abs(amount) * u.share % 10000 > abs(amount) * shares[pos] % 10000
         OR (abs(amount) * u.share % 10000 = abs(amount) * shares[pos] % 10000 AND u.place < pos))
    <= abs(amount) - (SELECT sum(abs(amount) * u.share / 10000) FROM unnest(shares) AS u(share)))::int)
$$;

CREATE FUNCTION payouts_split_part(amount bigint, shares bigint[], pos int) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE
WHEN cardinality(shares) <= 4 THEN
    sign(amount) * (abs(amount) * shares[pos] / 10000 + ((1
    + coalesce((abs(amount) * shares[1] % 10000 > abs(amount) * shares[pos] % 10000
               OR (abs(amount) * shares[1] % 10000 = abs(amount) * shares[pos] % 10000 AND 1 < pos))::int, 0)
    + coalesce((abs(amount) * shares[2] % 10000 > abs(amount) * shares[pos] % 10000
               OR (abs(amount) * shares[2] % 10000 = abs(amount) * shares[pos] % 10000 AND 2 < pos))::int, 0)
    + coalesce((abs(amount) * shares[3] % 10000 > abs(amount) * shares[pos] % 10000
               OR (abs(amount) * shares[3] % 10000 = abs(amount) * shares[pos] % 10000 AND 3 < pos))::int, 0)
    + coalesce((abs(amount) * shares[4] % 10000 > abs(amount) * shares[pos] % 10000
               OR (abs(amount) * shares[4] % 10000 = abs(amount) * shares[pos] % 10000 AND 4 < pos))::int, 0))
      <= abs(amount)
                   - coalesce(abs(amount) * shares[1] / 10000, 0)
                   - coalesce(abs(amount) * shares[2] / 10000, 0)
                   - coalesce(abs(amount) * shares[3] / 10000, 0)
                   - coalesce(abs(amount) * shares[4] / 10000, 0)
    )::int)
WHEN cardinality(shares) <= 12 THEN
    sign(amount) * (abs(amount) * shares[pos] / 10000 + ((1
    + coalesce((abs(amount) * shares[1] % 10000 > abs(amount) * shares[pos] % 10000
               OR (abs(amount) * shares[1] % 10000 = abs(amount) * shares[pos] % 10000 AND 1 < pos))::int, 0)
    + coalesce((abs(amount) * shares[2] % 10000 > abs(amount) * shares[pos] % 10000
               OR (abs(amount) * shares[2] % 10000 = abs(amount) * shares[pos] % 10000 AND 2 < pos))::int, 0)
    + coalesce((abs(amount) * shares[3] % 10000 > abs(amount) * shares[pos] % 10000
               OR (abs(amount) * shares[3] % 10000 = abs(amount) * shares[pos] % 10000 AND 3 < pos))::int, 0)
    + coalesce((abs(amount) * shares[4] % 10000 > abs(amount) * shares[pos] % 10000
               OR (abs(amount) * shares[4] % 10000 = abs(amount) * shares[pos] % 10000 AND 4 < pos))::int, 0)
    + coalesce((abs(amount) * shares[5] % 10000 > abs(amount) * shares[pos] % 10000
               OR (abs(amount) * shares[5] % 10000 = abs(amount) * shares[pos] % 10000 AND 5 < pos))::int, 0)
    + coalesce((abs(amount) * shares[6] % 10000 > abs(amount) * shares[pos] % 10000
               OR (abs(amount) * shares[6] % 10000 = abs(amount) * shares[pos] % 10000 AND 6 < pos))::int, 0)
    + coalesce((abs(amount) * shares[7] % 10000 > abs(amount) * shares[pos] % 10000
               OR (abs(amount) * shares[7] % 10000 = abs(amount) * shares[pos] % 10000 AND 7 < pos))::int, 0)
    + coalesce((abs(amount) * shares[8] % 10000 > abs(amount) * shares[pos] % 10000
               OR (abs(amount) * shares[8] % 10000 = abs(amount) * shares[pos] % 10000 AND 8 < pos))::int, 0)
    + coalesce((abs(amount) * shares[9] % 10000 > abs(amount) * shares[pos] % 10000
               OR (abs(amount) * shares[9] % 10000 = abs(amount) * shares[pos] % 10000 AND 9 < pos))::int, 0)
    + coalesce((abs(amount) * shares[10] % 10000 > abs(amount) * shares[pos] % 10000
               OR (abs(amount) * shares[10] % 10000 = abs(amount) * shares[pos] % 10000 AND 10 < pos))::int, 0)
    + coalesce((abs(amount) * shares[11] % 10000 > abs(amount) * shares[pos] % 10000
               OR (abs(amount) * shares[11] % 10000 = abs(amount) * shares[pos] % 10000 AND 11 < pos))::int, 0)
    + coalesce((abs(amount) * shares[12] % 10000 > abs(amount) * shares[pos] % 10000
               OR (abs(amount) * shares[12] % 10000 = abs(amount) * shares[pos] % 10000 AND 12 < pos))::int, 0))
      <= abs(amount)
                   - coalesce(abs(amount) * shares[1] / 10000, 0)
                   - coalesce(abs(amount) * shares[2] / 10000, 0)
                   - coalesce(abs(amount) * shares[3] / 10000, 0)
                   - coalesce(abs(amount) * shares[4] / 10000, 0)
                   - coalesce(abs(amount) * shares[5] / 10000, 0)
                   - coalesce(abs(amount) * shares[6] / 10000, 0)
                   - coalesce(abs(amount) * shares[7] / 10000, 0)
                   - coalesce(abs(amount) * shares[8] / 10000, 0)
                   - coalesce(abs(amount) * shares[9] / 10000, 0)
                   - coalesce(abs(amount) * shares[10] / 10000, 0)
                   - coalesce(abs(amount) * shares[11] / 10000, 0)
                   - coalesce(abs(amount) * shares[12] / 10000, 0)
    )::int)
ELSE payouts_split_part_any(amount, shares, pos)
END
$$;
