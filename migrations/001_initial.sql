-- 001: the deposit books.
-- users: one row per Telegram user the bot has seen.
CREATE TABLE users (
  id           INTEGER PRIMARY KEY,
  telegram_id  INTEGER UNIQUE NOT NULL,
  display_name TEXT    NOT NULL DEFAULT '',
  created_at   INTEGER NOT NULL
);

-- user_deposits: the balance, in minor units of the deposit currency.
-- Every change goes through DepositRepository (DESIGN.md money rule 1).
CREATE TABLE user_deposits (
  user_id    INTEGER UNIQUE NOT NULL REFERENCES users(id),
  balance    INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0),
  updated_at INTEGER NOT NULL
);

-- deposit_transactions: the ledger. amount is always positive; the sign is
-- direction (+1 credit, -1 debit), fixed by type except for adjustments.
CREATE TABLE deposit_transactions (
  id             INTEGER PRIMARY KEY,
  user_id        INTEGER NOT NULL REFERENCES users(id),
  type           TEXT    NOT NULL CHECK (type IN ('deposit', 'purchase', 'refund', 'adjustment')),
  amount         INTEGER NOT NULL CHECK (amount > 0),
  direction      INTEGER NOT NULL CHECK (direction IN (1, -1)),
  status         TEXT    NOT NULL CHECK (status IN ('pending', 'confirmed', 'rejected', 'cancelled')),
  depositor_name TEXT,
  reason         TEXT,
  reference      TEXT,
  created_at     INTEGER NOT NULL,
  decided_at     INTEGER,
  decided_by     INTEGER,
  CHECK ((type IN ('deposit', 'refund') AND direction = 1) OR
         (type = 'purchase' AND direction = -1) OR
         type = 'adjustment')
);
CREATE INDEX idx_transactions_user ON deposit_transactions(user_id, id);
CREATE INDEX idx_transactions_status ON deposit_transactions(status, id);
-- A purchase is charged once per order and refunded once per purchase.
CREATE UNIQUE INDEX idx_transactions_type_reference
  ON deposit_transactions(type, reference) WHERE reference IS NOT NULL;

-- reconciliation_runs / reconciliation_findings: every run is recorded with
-- what it found (DESIGN.md money rule 6); nothing is fixed silently.
CREATE TABLE reconciliation_runs (
  id                   INTEGER PRIMARY KEY,
  started_at           INTEGER NOT NULL,
  users_checked        INTEGER NOT NULL,
  transactions_checked INTEGER NOT NULL,
  findings             INTEGER NOT NULL
);
CREATE TABLE reconciliation_findings (
  id             INTEGER PRIMARY KEY,
  run_id         INTEGER NOT NULL REFERENCES reconciliation_runs(id),
  kind           TEXT    NOT NULL,
  user_id        INTEGER,
  transaction_id INTEGER,
  balance        INTEGER,
  ledger_sum     INTEGER,
  detail         TEXT    NOT NULL
);
CREATE INDEX idx_findings_run ON reconciliation_findings(run_id);
