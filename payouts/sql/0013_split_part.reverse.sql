DROP FUNCTION IF EXISTS payouts_split_part(bigint, bigint[], int);
DROP FUNCTION IF EXISTS payouts_split_part_any(bigint, bigint[], int);
