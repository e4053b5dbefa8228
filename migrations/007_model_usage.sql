-- 007: model tokens each user spent per UTC day, for the daily budget
-- (USER_DAILY_MODEL_TOKENS) and for an operator who wants the cost per user.
-- `day` is the UTC date 'YYYY-MM-DD'; `tokens` the sum of the usage.total_tokens
-- the model server reported for that user's turns begun that day; `turns` how
-- many turns added to it. Written in the same transaction as the turn's
-- conversation rows (one commit per turn), read before each turn's model call by
-- every process on the database (`serve` and `chat` share one budget).
CREATE TABLE model_usage (
  user_id    INTEGER NOT NULL REFERENCES users(id),
  day        TEXT    NOT NULL,
  tokens     INTEGER NOT NULL DEFAULT 0 CHECK (tokens >= 0),
  turns      INTEGER NOT NULL DEFAULT 0 CHECK (turns >= 0),
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, day)
) WITHOUT ROWID;
