-- 0001 event log
-- Intent: the append-only event log, the idempotency records beside it, the application role that may only
-- read and insert, and triggers that refuse UPDATE, DELETE and TRUNCATE on both, even for the owner.
-- Lock cost: creates new objects only; no existing table is locked or rewritten.

-- The role the service works as. NOLOGIN: operators either grant it to a login role of their own, or let
-- the service connect as the owner and assume it (`role` startup parameter), so the pool never holds more
-- than SELECT and INSERT. Roles are cluster-wide, hence "if not exists".
do $$
begin
    if not exists (select from pg_roles where rolname = 'qinglian_app') then
        create role qinglian_app nologin;
    end if;
    if not pg_has_role(current_user, 'qinglian_app', 'MEMBER') then
        execute format('grant qinglian_app to %I', current_user);
    end if;
end
$$;

create table events (
    -- Assigned under the append lock as head + 1, never by a sequence: sequences hand out numbers at
    -- nextval() time, not commit time, so readers following positions could skip a slower transaction.
    position        bigint      not null,
    stream_id       text        not null,
    stream_version  bigint      not null,
    event_id        uuid        not null,
    type            text        not null,
    schema_version  integer     not null,
    -- For queries only. jsonb reorders keys and drops duplicates, so it is never what gets hashed.
    payload         jsonb       not null,
    metadata        jsonb       not null,
    -- The exact bytes that were hashed: the canonical JSON of the whole envelope.
    canonical       bytea       not null,
    -- RFC 9162 leaf hash: SHA-256(0x00 || canonical).
    leaf_hash       bytea       not null,
    recorded_at     timestamptz not null,
    constraint events_pkey primary key (position),
    constraint events_stream_version_key unique (stream_id, stream_version),
    constraint events_event_id_key unique (event_id),
    constraint events_position_check check (position > 0),
    constraint events_stream_version_check check (stream_version > 0),
    constraint events_schema_version_check check (schema_version > 0),
    constraint events_leaf_hash_check check (octet_length(leaf_hash) = 32)
);

comment on table events is 'The log: one row per event, in commit order. Append-only.';

create table idempotency_keys (
    key             text        not null,
    -- SHA-256 over the request's stream and payloads: a retry must carry the same request.
    fingerprint     bytea       not null,
    -- Null for a bulk import, which spans streams.
    stream_id       text,
    first_position  bigint      not null,
    event_count     integer     not null,
    stream_version  bigint,
    recorded_at     timestamptz not null,
    constraint idempotency_keys_pkey primary key (key),
    constraint idempotency_keys_event_count_check check (event_count > 0)
);

comment on table idempotency_keys is 'The first result of every append, by idempotency key. Append-only.';

create function reject_log_change() returns trigger
language plpgsql as $$
begin
    raise exception 'the % table is append-only: % is not allowed', tg_table_name, tg_op
        using errcode = 'insufficient_privilege',
              hint = 'Record a correcting event instead of changing history.';
end
$$;

-- Row triggers catch UPDATE and DELETE; TRUNCATE fires statement triggers only
-- (https://www.postgresql.org/docs/15/sql-createtrigger.html).
create trigger events_append_only
    before update or delete on events
    for each row execute function reject_log_change();
create trigger events_no_truncate
    before truncate on events
    for each statement execute function reject_log_change();
create trigger idempotency_keys_append_only
    before update or delete on idempotency_keys
    for each row execute function reject_log_change();
create trigger idempotency_keys_no_truncate
    before truncate on idempotency_keys
    for each statement execute function reject_log_change();

revoke all on events, idempotency_keys from public;
grant select, insert on events, idempotency_keys to qinglian_app;
grant select on schema_migrations to qinglian_app;
