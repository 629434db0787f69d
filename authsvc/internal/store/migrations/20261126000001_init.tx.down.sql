DROP TABLE used_refresh_tokens;
--bun:split
DROP TABLE sessions;
--bun:split
DROP TABLE users;
