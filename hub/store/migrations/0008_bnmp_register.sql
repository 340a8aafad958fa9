-- BNMP is the register of record (R417 art.1; S004 item 10): warrants issued there, never through
-- the hub, become the hub's own records when its poller first sees them (origin 'bnmp').
ALTER TABLE warrants ADD COLUMN origin text NOT NULL DEFAULT 'hub';

-- The warrants SETARIM's last certificate listed against an order that are still in force
-- (S000 art.4 §1). When one is revoked or expires, the hub finds the orders it impeded here.
ALTER TABLE release_orders ADD COLUMN impediments text[] NOT NULL DEFAULT '{}';
CREATE INDEX release_orders_impeded ON release_orders USING gin (impediments)
    WHERE state IN ('impeded', 'ready_impeded');
