DROP FUNCTION IF EXISTS licensing_holder_work_ancestors(uuid[]);
