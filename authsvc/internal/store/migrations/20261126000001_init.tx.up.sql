-- Users and their sessions. {{.Timestamp}} is TIMESTAMPTZ on PostgreSQL and
-- TIMESTAMP on SQLite (see store.Migrate).
CREATE TABLE users (
    id            VARCHAR(36)  PRIMARY KEY,
    email         VARCHAR(254) NOT NULL,
    password_hash TEXT         NOT NULL,
    roles         TEXT         NOT NULL,
    created_at    {{.Timestamp}} NOT NULL,
    updated_at    {{.Timestamp}} NOT NULL
);
--bun:split
-- Emails are stored normalized, so a plain unique index decides races
-- between registrations of one address in any letter case.
CREATE UNIQUE INDEX users_email_key ON users (email);
--bun:split
CREATE TABLE sessions (
    id                  VARCHAR(36) PRIMARY KEY,
    user_id             VARCHAR(36) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_hash        CHAR(64)    NOT NULL,
    prev_refresh_hash   CHAR(64),
    rotated_at          {{.Timestamp}},
    successor           TEXT,
    created_at          {{.Timestamp}} NOT NULL,
    last_used_at        {{.Timestamp}} NOT NULL,
    expires_at          {{.Timestamp}} NOT NULL,
    absolute_expires_at {{.Timestamp}} NOT NULL,
    revoked_at          {{.Timestamp}},
    user_agent          TEXT NOT NULL,
    ip_address          TEXT NOT NULL
);
--bun:split
CREATE UNIQUE INDEX sessions_refresh_hash_key ON sessions (refresh_hash);
--bun:split
CREATE INDEX sessions_user_id_idx ON sessions (user_id, created_at);
--bun:split
-- Refresh tokens rotated away, kept to recognise reuse.
CREATE TABLE used_refresh_tokens (
    hash       CHAR(64)    PRIMARY KEY,
    session_id VARCHAR(36) NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    used_at    {{.Timestamp}} NOT NULL
);
--bun:split
CREATE INDEX used_refresh_tokens_session_id_idx ON used_refresh_tokens (session_id);
