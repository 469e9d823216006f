-- 0004 access tokens
-- Intent: the secret half of each built-in token, as SHA-256 of its 256 random bits, keyed by the token's
-- public id. The grant itself (label, role, scope, expiry, issuer) and its revocation are events in the
-- log, on the stream access-<token id>; this table only lets the service check a presented secret. It is
-- kept out of the log so that an exported, public log carries nothing a caller could present. Append-only
-- for the service: revoking a token is an event, never a deletion here.
-- Lock cost: creates a new table only.

create table access_secrets (
    token_id    text        not null,
    secret_hash bytea       not null,
    created_at  timestamptz not null default now(),
    constraint access_secrets_pkey primary key (token_id),
    constraint access_secrets_token_id_check check (token_id ~ '^[0-9a-f]{12}$'),
    constraint access_secrets_secret_hash_check check (octet_length(secret_hash) = 32)
);

comment on table access_secrets is 'SHA-256 of each built-in token''s secret; grants are events. Append-only.';

revoke all on access_secrets from public;
grant select, insert on access_secrets to qinglian_app;
