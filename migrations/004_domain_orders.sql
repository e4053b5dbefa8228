-- 004: domain purchases as an explicit state machine (DESIGN.md money rule 5).
--   quoted -> charged -> registered
--   charged -> refunded        (the registrar definitely failed)
--   charged -> unknown         (timeout / crash: the recovery job asks the registrar)
--   unknown -> registered | refunded
--   quoted -> expired | cancelled
-- The debit and quoted->charged commit together; the refund and ->refunded too.
CREATE TABLE domain_orders (
  id                       INTEGER PRIMARY KEY,
  user_id                  INTEGER NOT NULL REFERENCES users(id),
  domain                   TEXT    NOT NULL,
  years                    INTEGER NOT NULL CHECK (years BETWEEN 1 AND 10),
  price                    INTEGER NOT NULL CHECK (price > 0),
  registrar_usd_micros     INTEGER NOT NULL CHECK (registrar_usd_micros > 0),
  premium_usd_micros       INTEGER NOT NULL DEFAULT 0,
  state                    TEXT    NOT NULL CHECK (state IN ('quoted', 'charged', 'registered',
                                     'refunded', 'unknown', 'expired', 'cancelled')),
  quote_expires_at         INTEGER NOT NULL,
  purchase_transaction_id  INTEGER REFERENCES deposit_transactions(id),
  refund_transaction_id    INTEGER REFERENCES deposit_transactions(id),
  registrar_order_id       TEXT,
  registrar_domain_id      TEXT,
  failure                  TEXT,
  created_at               INTEGER NOT NULL,
  updated_at               INTEGER NOT NULL
);
CREATE INDEX idx_orders_user ON domain_orders(user_id, id);
CREATE INDEX idx_orders_state ON domain_orders(state, id);
-- One live purchase per name: two users cannot both be charged for the same domain.
CREATE UNIQUE INDEX idx_orders_live_domain ON domain_orders(domain)
  WHERE state IN ('charged', 'unknown', 'registered');
