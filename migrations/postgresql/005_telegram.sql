-- 005 on PostgreSQL: the same tables as migrations/005_telegram.sql (whose comments say what
-- each column means), in PostgreSQL's types: every integer is BIGINT (int64 minor units and
-- Telegram ids), and a generated id is an identity column that accepts an explicit id (copy-db).
CREATE TABLE telegram_updates (
  update_id   BIGINT PRIMARY KEY,
  chat_id     BIGINT NOT NULL,
  payload     TEXT    NOT NULL,
  state       TEXT    NOT NULL CHECK (state IN ('received', 'started', 'done', 'abandoned')),
  received_at BIGINT NOT NULL,
  updated_at  BIGINT NOT NULL
);
CREATE INDEX idx_updates_state ON telegram_updates(state, update_id);

CREATE TABLE deposit_notifications (
  transaction_id BIGINT NOT NULL REFERENCES deposit_transactions(id),
  chat_id        BIGINT NOT NULL,
  message_id     BIGINT NOT NULL,
  PRIMARY KEY (transaction_id, chat_id)
);

CREATE TABLE reconciliation_alerts (
  finding_key TEXT    PRIMARY KEY,
  balance     BIGINT NOT NULL,
  ledger_sum  BIGINT NOT NULL,
  description TEXT    NOT NULL,
  alerted_at  BIGINT NOT NULL
);
