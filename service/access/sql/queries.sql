-- Access's named queries: the secrets of built-in tokens and the grants the log holds.
-- Loaded once by service/log/queries.py. Each block starts with "-- name: NAME".
-- Parameters are $1..$n; Python never pastes values into SQL.

-- name: save_secret
insert into access_secrets (token_id, secret_hash) values ($1, $2);

-- name: credential
-- A presented token's stored secret hash and its stream's events, in one round trip: the stream is read by
-- the (stream_id, stream_version) index, so this costs the same however long the log is.
select s.secret_hash,
       coalesce((select jsonb_agg(jsonb_build_array(e.type, e.schema_version, e.payload)
                                  order by e.stream_version)
                 from events e where e.stream_id = 'access-' || s.token_id), '[]'::jsonb)::text as grants
from access_secrets s where s.token_id = $1;

-- name: grant_events
-- Every access event, in log order: what `qinglian token list` folds.
select type, schema_version, payload::text as payload from events
where stream_id like 'access-%' order by position;
