-- 005: the Telegram transport.
-- telegram_updates: every update the bot received, recorded before it is
-- handled (DESIGN.md money rule 4: at most once). received -> started -> done;
-- a 'started' update found at start-up was interrupted by a crash and is not
-- run again (abandoned, the user is told).
CREATE TABLE telegram_updates (
  update_id   INTEGER PRIMARY KEY,
  chat_id     INTEGER NOT NULL,
  payload     TEXT    NOT NULL,
  state       TEXT    NOT NULL CHECK (state IN ('received', 'started', 'done', 'abandoned')),
  received_at INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);
CREATE INDEX idx_updates_state ON telegram_updates(state, update_id);

-- deposit_notifications: the message each admin got about a pending deposit,
-- so every copy can be edited to show who decided and how.
CREATE TABLE deposit_notifications (
  transaction_id INTEGER NOT NULL REFERENCES deposit_transactions(id),
  chat_id        INTEGER NOT NULL,
  message_id     INTEGER NOT NULL,
  PRIMARY KEY (transaction_id, chat_id)
);

-- reconciliation_alerts: discrepancies the admins were told about, so the same
-- one is not repeated every run and a resolved one is reported once.
CREATE TABLE reconciliation_alerts (
  finding_key TEXT    PRIMARY KEY,
  balance     INTEGER NOT NULL,
  ledger_sum  INTEGER NOT NULL,
  description TEXT    NOT NULL,
  alerted_at  INTEGER NOT NULL
);
