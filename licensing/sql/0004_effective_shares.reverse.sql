DROP FUNCTION IF EXISTS licensing_reserved_works(uuid[], text);
DROP FUNCTION IF EXISTS licensing_owned_works(uuid[]);
DROP FUNCTION IF EXISTS licensing_effective_shares(uuid[]);
