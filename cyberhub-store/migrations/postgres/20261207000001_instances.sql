-- Server instances that share this database, with a heartbeat: an instance that keeps its
-- guarantees in its own memory (no shared Redis) refuses to start beside another one.
CREATE TABLE IF NOT EXISTS instances (
    id TEXT PRIMARY KEY,
    service TEXT NOT NULL,
    shared_state BOOLEAN NOT NULL,
    started_at_ms BIGINT NOT NULL,
    seen_at_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS instances_seen ON instances (seen_at_ms);
