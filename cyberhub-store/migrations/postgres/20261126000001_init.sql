-- CyberHub relational schema, PostgreSQL flavour. Append-only: never edit a shipped migration.

CREATE TABLE users (
    id                   UUID PRIMARY KEY,
    email                TEXT NOT NULL UNIQUE,
    password_hash        TEXT NOT NULL,
    first_name           TEXT NOT NULL,
    last_name            TEXT NOT NULL,
    bio                  TEXT,
    country              TEXT,
    timezone             TEXT,
    language             TEXT,
    learning_preferences JSONB NOT NULL DEFAULT '{}',
    status               TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'deactivated')),
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL
);

CREATE TABLE organizations (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL,
    slug        TEXT NOT NULL UNIQUE,
    org_type    TEXT NOT NULL CHECK (org_type IN ('sponsor', 'employer', 'partner')),
    description TEXT,
    website     TEXT,
    country     TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE memberships (
    org_id    UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id   UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role      TEXT NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
    joined_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE role_grants (
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role         TEXT NOT NULL,
    scope_org_id UUID REFERENCES organizations (id) ON DELETE CASCADE,
    granted_by   UUID,
    granted_at   TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX role_grants_unique
    ON role_grants (user_id, role, COALESCE(scope_org_id, '00000000-0000-0000-0000-000000000000'::uuid));

CREATE TABLE sessions (
    id             UUID PRIMARY KEY,
    user_id        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_jti    UUID NOT NULL,
    generation     BIGINT NOT NULL DEFAULT 0,
    created_at     TIMESTAMPTZ NOT NULL,
    last_used_at   TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL,
    revoked_at     TIMESTAMPTZ,
    revoked_reason TEXT,
    user_agent     TEXT,
    client_addr    TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE content_items (
    id                UUID PRIMARY KEY,
    content_id        TEXT NOT NULL UNIQUE,
    content_type      TEXT NOT NULL,
    title             TEXT NOT NULL,
    description       TEXT NOT NULL,
    track             TEXT,
    difficulty        TEXT,
    tags              JSONB NOT NULL DEFAULT '[]',
    estimated_minutes BIGINT CHECK (estimated_minutes BETWEEN 1 AND 10000),
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX content_items_type_track ON content_items (content_type, track);

CREATE TABLE progress (
    id                    UUID PRIMARY KEY,
    user_id               UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    content_id            TEXT NOT NULL,
    content_type          TEXT NOT NULL,
    status                TEXT NOT NULL CHECK (status IN ('not_started', 'in_progress', 'completed', 'paused')),
    completion_percentage DOUBLE PRECISION NOT NULL CHECK (completion_percentage BETWEEN 0 AND 100),
    score                 DOUBLE PRECISION CHECK (score BETWEEN 0 AND 100),
    metadata              JSONB NOT NULL DEFAULT '{}',
    started_at            TIMESTAMPTZ,
    completed_at          TIMESTAMPTZ,
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL,
    UNIQUE (user_id, content_id, content_type)
);
CREATE INDEX progress_user_updated ON progress (user_id, updated_at);

CREATE TABLE audit_log (
    id            UUID PRIMARY KEY,
    actor_id      UUID,
    action        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT,
    result        TEXT NOT NULL CHECK (result IN ('success', 'failure', 'denied')),
    client_addr   TEXT,
    details       JSONB NOT NULL DEFAULT '{}',
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_log_actor_time ON audit_log (actor_id, created_at);
CREATE INDEX audit_log_time ON audit_log (created_at);
