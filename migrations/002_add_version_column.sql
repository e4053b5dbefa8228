-- 002: optimistic locking for user_deposits.
-- Every balance change reads (balance, version) and writes
--   UPDATE user_deposits SET balance = ?, version = version + 1
--   WHERE user_id = ? AND version = ?
-- so a concurrent writer is detected instead of silently overwritten.
-- Existing rows start at version 1; no balance is touched.
ALTER TABLE user_deposits ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
CREATE INDEX idx_deposits_user_version ON user_deposits(user_id, version);

-- Rollback (run by hand, in one transaction, with the bot stopped; needs
-- SQLite >= 3.35 for DROP COLUMN):
--   BEGIN IMMEDIATE;
--   DROP INDEX idx_deposits_user_version;
--   ALTER TABLE user_deposits DROP COLUMN version;
--   DELETE FROM schema_migrations WHERE version = 2;
--   COMMIT;
-- A binary that still expects the column must not run against the rolled-back file.
