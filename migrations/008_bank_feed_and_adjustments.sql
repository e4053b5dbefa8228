-- 008: bank-transfer notifications matched to pending deposits, adjustments an
-- admin asks for and confirms with a button, and users found by @username.
--
-- deposit_transactions.decided_via: who decided when it was not a person. NULL for a
-- decision by the admin in decided_by; 'bank-feed' for a deposit confirmed by a
-- signed bank notification (decided_by is then NULL and reference is 'bank:<ref>',
-- so the unique (type, reference) index lets one bank reference confirm one deposit).
ALTER TABLE deposit_transactions ADD COLUMN decided_via TEXT;
-- deposit_transactions.requested_by: for an adjustment, the Telegram id of the admin
-- who asked for it (decided_by is the admin who confirmed it; reason says why).
ALTER TABLE deposit_transactions ADD COLUMN requested_by INTEGER;

-- users.username: the Telegram @username (without @, lower case) last seen on a message,
-- so an admin can look a user up by it; NULL when the user has none.
ALTER TABLE users ADD COLUMN username TEXT;
CREATE INDEX idx_users_username ON users(username);

-- bank_notifications: every signed "transfer received" notice the bank sent, kept
-- whatever became of it. `reference` is the bank's own id: a second notice with the
-- same reference changes nothing, across restarts and processes. `amount` is in
-- minor units of `currency`; `depositor_key` is depositor_name normalised for
-- matching (case, spaces, width). state: 'unmatched' (no pending deposit matched
-- yet; matched when the user's request comes), 'ambiguous' (several matched; an
-- admin picks), 'matched' (confirmed transaction_id), 'ignored' (an admin said so).
CREATE TABLE bank_notifications (
  id             INTEGER PRIMARY KEY,
  reference      TEXT    UNIQUE NOT NULL,
  amount         INTEGER NOT NULL CHECK (amount > 0),
  currency       TEXT    NOT NULL,
  depositor_name TEXT    NOT NULL,
  depositor_key  TEXT    NOT NULL,
  received_at    INTEGER NOT NULL,
  recorded_at    INTEGER NOT NULL,
  state          TEXT    NOT NULL CHECK (state IN ('unmatched', 'ambiguous', 'matched', 'ignored')),
  transaction_id INTEGER REFERENCES deposit_transactions(id),
  decided_by     INTEGER,
  decided_at     INTEGER,
  body           TEXT    NOT NULL
);
CREATE INDEX idx_bank_notifications_open ON bank_notifications(state, amount);
CREATE UNIQUE INDEX idx_bank_notifications_transaction
  ON bank_notifications(transaction_id) WHERE transaction_id IS NOT NULL;

-- bank_notification_messages: the message each admin got about a notice that needs a
-- person (no or several matches), so every copy can be edited once one admin decided.
CREATE TABLE bank_notification_messages (
  notification_id INTEGER NOT NULL REFERENCES bank_notifications(id),
  chat_id         INTEGER NOT NULL,
  message_id      INTEGER NOT NULL,
  PRIMARY KEY (notification_id, chat_id)
);
