DROP FUNCTION IF EXISTS licensing_coverage(uuid, uuid[], text[], date[], text[]);
DROP FUNCTION IF EXISTS licensing_usage_partition(date);
DROP TABLE IF EXISTS licensing_usageevent CASCADE;
