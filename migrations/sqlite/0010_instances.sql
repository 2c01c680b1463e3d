-- Several instances on one database. A lease names work only one instance
-- may do at a time (a Telegram bot's long polling, a Discord gateway); its
-- holder renews it, and another instance takes it once it has expired.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Platform deliveries (update, event, message and interaction ids) already
-- handled, so a redelivery is dropped across restarts and instances. Rows
-- older than the retention window are pruned.
CREATE TABLE channel_deliveries (
    channel     TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (channel, delivery_id)
);
CREATE INDEX channel_deliveries_received ON channel_deliveries (received_at);

-- A running scheduled run's instance beats while it works; a run whose
-- heartbeat stopped is taken over.
ALTER TABLE task_runs ADD COLUMN heartbeat_at BIGINT;
