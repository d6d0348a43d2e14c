-- The refresh token the latest rotation replaced: a client that did not receive the new
-- pair may retry with it for a short grace period (cyberhub-auth's refresh_grace).
ALTER TABLE sessions ADD COLUMN previous_refresh_jti BLOB;
