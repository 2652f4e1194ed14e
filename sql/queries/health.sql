-- name: latest_migration
-- The newest applied migration, for /readyz.
SELECT max(version) AS version FROM schema_migrations;
