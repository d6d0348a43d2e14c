-- AI layer: the catalog-indexing outbox and stored personality analyses.

-- One row per catalog change still to be embedded into the vector store. Written in the
-- same transaction as the change; a worker leases rows (leased_until_ms, epoch millis),
-- indexes the item's current state, then deletes them. An expired lease is claimable again.
CREATE TABLE index_outbox (
    id              BIGSERIAL PRIMARY KEY,
    content_uuid    UUID NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    leased_by       TEXT,
    leased_until_ms BIGINT,
    attempts        BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT
);
CREATE INDEX index_outbox_lease ON index_outbox (leased_until_ms, id);
CREATE INDEX index_outbox_content ON index_outbox (content_uuid);

CREATE TABLE personality_analyses (
    id          UUID PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    analyzed_at TIMESTAMPTZ NOT NULL,
    analysis    JSONB NOT NULL
);
CREATE INDEX personality_analyses_user ON personality_analyses (user_id, analyzed_at DESC);
