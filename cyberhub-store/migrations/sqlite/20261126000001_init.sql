-- CyberHub relational schema, SQLite flavour. Append-only: never edit a shipped migration.
-- UUIDs are 16-byte BLOBs, timestamps RFC 3339 TEXT (UTC), JSON as TEXT.

CREATE TABLE users (
    id                   BLOB PRIMARY KEY NOT NULL,
    email                TEXT NOT NULL UNIQUE,
    password_hash        TEXT NOT NULL,
    first_name           TEXT NOT NULL,
    last_name            TEXT NOT NULL,
    bio                  TEXT,
    country              TEXT,
    timezone             TEXT,
    language             TEXT,
    learning_preferences TEXT NOT NULL DEFAULT '{}',
    status               TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'deactivated')),
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);

CREATE TABLE organizations (
    id          BLOB PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    slug        TEXT NOT NULL UNIQUE,
    org_type    TEXT NOT NULL CHECK (org_type IN ('sponsor', 'employer', 'partner')),
    description TEXT,
    website     TEXT,
    country     TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE memberships (
    org_id    BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id   BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role      TEXT NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
    joined_at TEXT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE role_grants (
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role         TEXT NOT NULL,
    scope_org_id BLOB REFERENCES organizations (id) ON DELETE CASCADE,
    granted_by   BLOB,
    granted_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX role_grants_unique
    ON role_grants (user_id, role, COALESCE(scope_org_id, X'00000000000000000000000000000000'));

CREATE TABLE sessions (
    id             BLOB PRIMARY KEY NOT NULL,
    user_id        BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_jti    BLOB NOT NULL,
    generation     INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL,
    last_used_at   TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    revoked_at     TEXT,
    revoked_reason TEXT,
    user_agent     TEXT,
    client_addr    TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE content_items (
    id                BLOB PRIMARY KEY NOT NULL,
    content_id        TEXT NOT NULL UNIQUE,
    content_type      TEXT NOT NULL,
    title             TEXT NOT NULL,
    description       TEXT NOT NULL,
    track             TEXT,
    difficulty        TEXT,
    tags              TEXT NOT NULL DEFAULT '[]',
    estimated_minutes INTEGER CHECK (estimated_minutes BETWEEN 1 AND 10000),
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX content_items_type_track ON content_items (content_type, track);

CREATE TABLE progress (
    id                    BLOB PRIMARY KEY NOT NULL,
    user_id               BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    content_id            TEXT NOT NULL,
    content_type          TEXT NOT NULL,
    status                TEXT NOT NULL CHECK (status IN ('not_started', 'in_progress', 'completed', 'paused')),
    completion_percentage REAL NOT NULL CHECK (completion_percentage BETWEEN 0 AND 100),
    score                 REAL CHECK (score BETWEEN 0 AND 100),
    metadata              TEXT NOT NULL DEFAULT '{}',
    started_at            TEXT,
    completed_at          TEXT,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    UNIQUE (user_id, content_id, content_type)
);
CREATE INDEX progress_user_updated ON progress (user_id, updated_at);

CREATE TABLE audit_log (
    id            BLOB PRIMARY KEY NOT NULL,
    actor_id      BLOB,
    action        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT,
    result        TEXT NOT NULL CHECK (result IN ('success', 'failure', 'denied')),
    client_addr   TEXT,
    details       TEXT NOT NULL DEFAULT '{}',
    created_at    TEXT NOT NULL
);
CREATE INDEX audit_log_actor_time ON audit_log (actor_id, created_at);
CREATE INDEX audit_log_time ON audit_log (created_at);
