-- Invitations to join an organization: an organization admin invites, the user accepts
-- (the membership is written in the same transaction) or declines; admins revoke.
CREATE TABLE invitations (
    id         BLOB PRIMARY KEY NOT NULL,
    org_id     BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
    invited_by BLOB REFERENCES users (id) ON DELETE SET NULL,
    status     TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'declined', 'revoked', 'expired')),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    decided_at TEXT
);
-- At most one pending invitation per (organization, user).
CREATE UNIQUE INDEX invitations_one_pending ON invitations (org_id, user_id) WHERE status = 'pending';
CREATE INDEX invitations_user ON invitations (user_id, created_at);
CREATE INDEX invitations_org ON invitations (org_id, created_at);
