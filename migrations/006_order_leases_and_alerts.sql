-- 006: who executes a purchase or handles an update, and admin alerts delivered per admin.
--
-- domain_orders.lease_owner / lease_expires_at: the process executing an order
-- (debit -> registrar create -> outcome) owns it until lease_expires_at (unix
-- seconds) and renews the lease while the registrar call runs. Recovery takes an
-- order only when no live lease is held (DESIGN.md money rule 5), so a recovery
-- in another process can never refund an order whose create is still in flight.
-- create_sent_at: set, durably, just before the registrar create is sent; NULL
-- means the create was never sent and a refund needs no registrar call.
ALTER TABLE domain_orders ADD COLUMN lease_owner TEXT;
ALTER TABLE domain_orders ADD COLUMN lease_expires_at INTEGER;
ALTER TABLE domain_orders ADD COLUMN create_sent_at INTEGER;
-- An order an older binary left charged or unknown may have had its create sent:
-- recovery must ask the registrar about it, not refund it unasked.
UPDATE domain_orders SET create_sent_at = updated_at WHERE state IN ('charged', 'unknown');

-- telegram_updates.handler: the process that started handling an update
-- (same form as lease_owner). At start-up only updates whose handler is gone are
-- abandoned; one still being handled by a serve running beside the new one is left to it.
ALTER TABLE telegram_updates ADD COLUMN handler TEXT;

-- admin_alerts: something the admins must hear about (a discrepancy, a purchase
-- whose registrar answer disagrees with the order, a name registered after its
-- refund). Queued once per alert_key by whichever process found it.
CREATE TABLE admin_alerts (
  id         INTEGER PRIMARY KEY,
  alert_key  TEXT    UNIQUE NOT NULL,
  text       TEXT    NOT NULL,
  created_at INTEGER NOT NULL
);

-- admin_alert_deliveries: one row per (alert, admin) once a delivery was tried;
-- a failed one is retried with backoff, a delivered one never again.
CREATE TABLE admin_alert_deliveries (
  alert_id        INTEGER NOT NULL REFERENCES admin_alerts(id),
  admin_id        INTEGER NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  delivered_at    INTEGER,
  next_attempt_at INTEGER NOT NULL,
  last_error      TEXT,
  PRIMARY KEY (alert_id, admin_id)
);
