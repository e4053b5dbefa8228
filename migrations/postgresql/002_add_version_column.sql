-- 002 on PostgreSQL: the same tables as migrations/002_add_version_column.sql (whose comments say what
-- each column means), in PostgreSQL's types: every integer is BIGINT (int64 minor units and
-- Telegram ids), and a generated id is an identity column that accepts an explicit id (copy-db).
ALTER TABLE user_deposits ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
CREATE INDEX idx_deposits_user_version ON user_deposits(user_id, version);
