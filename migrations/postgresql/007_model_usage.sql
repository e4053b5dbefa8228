-- 007 on PostgreSQL: the same tables as migrations/007_model_usage.sql (whose comments say what
-- each column means), in PostgreSQL's types: every integer is BIGINT (int64 minor units and
-- Telegram ids), and a generated id is an identity column that accepts an explicit id (copy-db).
CREATE TABLE model_usage (
  user_id    BIGINT NOT NULL REFERENCES users(id),
  day        TEXT    NOT NULL,
  tokens     BIGINT NOT NULL DEFAULT 0 CHECK (tokens >= 0),
  turns      BIGINT NOT NULL DEFAULT 0 CHECK (turns >= 0),
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (user_id, day)
);
