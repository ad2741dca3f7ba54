DROP FUNCTION payouts_split_part(bigint, bigint[], int);
DROP FUNCTION payouts_split_part_any(bigint, bigint[], int);
