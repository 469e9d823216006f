-- The log's named queries: appends, idempotency, wake-ups and reads by stream or position.
-- Loaded once by service/log/queries.py. Each block starts with "-- name: NAME".
-- Parameters are $1..$n; Python never pastes values into SQL.

-- name: take_append_lock
-- The append lock for one transaction, as a bulk import takes it. The group writer holds the same key at
-- session level while it has work (service/log/lease.py); whoever holds it is the only one appending, so
-- position order is commit order. This form is released at commit or rollback
-- (https://www.postgresql.org/docs/15/explicit-locking.html#ADVISORY-LOCKS). Heads must be read in a later
-- statement: a statement's snapshot is taken before it waits for the lock.
select pg_advisory_xact_lock($1::bigint);

-- name: head
select position, recorded_at from events order by position desc limit 1;

-- name: stream_versions
-- One backward index probe per stream, however long the stream is.
select s.stream_id,
       coalesce((select e.stream_version from events e
                 where e.stream_id = s.stream_id
                 order by e.stream_version desc limit 1), 0) as version
from unnest($1::text[]) as s(stream_id);

-- name: idempotency_records
select key, fingerprint, stream_id, first_position, event_count, stream_version
from idempotency_keys where key = any($1::text[]);

-- name: write_batch
-- Events, their idempotency records, the salts and values of their sealed fields and the wake-up in one
-- round trip. NOTIFY is delivered at commit and carries only the new head; listeners catch up by position
-- from there.
with written as (
    insert into events (position, stream_id, stream_version, event_id, type, schema_version,
                        payload, metadata, canonical, leaf_hash, recorded_at)
    select e.position, e.stream_id, e.stream_version, e.event_id, e.type, e.schema_version,
           e.payload::jsonb, e.metadata::jsonb, e.canonical, e.leaf_hash, $11::timestamptz
    from unnest($1::bigint[], $2::text[], $3::bigint[], $4::uuid[], $5::text[], $6::integer[],
                $7::text[], $8::text[], $9::bytea[], $10::bytea[])
         as e(position, stream_id, stream_version, event_id, type, schema_version,
              payload, metadata, canonical, leaf_hash)
    returning 1
), remembered as (
    insert into idempotency_keys (key, fingerprint, stream_id, first_position, event_count,
                                  stream_version, recorded_at)
    select k.key, k.fingerprint, k.stream_id, k.first_position, k.event_count, k.stream_version,
           $11::timestamptz
    from unnest($12::text[], $13::bytea[], $14::text[], $15::bigint[], $16::integer[], $17::bigint[])
         as k(key, fingerprint, stream_id, first_position, event_count, stream_version)
    returning 1
), sealed as (
    insert into restricted_values (position, field, salt, value)
    select o.position, o.field, o.salt, o.value
    from unnest($19::bigint[], $20::text[], $21::bytea[], $22::text[]) as o(position, field, salt, value)
    returning 1
)
select pg_notify('qinglian_events', $18::text), (select count(*) from written) as written,
       (select count(*) from sealed) as sealed;

-- name: salts_between
-- The salts of the sealed fields of the events at positions $1 to $2 (those not erased).
select position, field, salt from restricted_values
where position between $1 and $2 and salt is not null;

-- name: remember_import
insert into idempotency_keys (key, fingerprint, stream_id, first_position, event_count,
                              stream_version, recorded_at)
values ($1, $2, null, $3, $4, null, $5);

-- name: notify_head
select pg_notify('qinglian_events', $1::text);

-- name: read_stream
select position, stream_id, stream_version, event_id, type, schema_version, canonical, leaf_hash,
       recorded_at
from events
where stream_id = $1 and stream_version > $2
order by stream_version
limit $3;

-- name: read_all
select position, stream_id, stream_version, event_id, type, schema_version, canonical, leaf_hash,
       recorded_at
from events
where position > $1
  and ($3::text[] is null or type = any($3::text[]))
  and ($4::text is null or starts_with(stream_id, $4::text))
order by position
limit $2;

-- name: read_payloads
-- What a fold needs of each event, in log order: a rebuild reads the whole log through this. It reads the
-- jsonb copy, which is cheaper to take apart than the whole hashed envelope; jsonb keeps the payload's
-- values (numbers as numeric, so a float written 1e+16 reads back as 10000000000000000, which the payload
-- readers accept as the same number). Verification and the offline verifier read the hashed bytes.
select position, type, schema_version, payload::text as payload
from events
where position > $1
order by position
limit $2;

-- name: stream_version
select coalesce(max(stream_version), 0) from events where stream_id = $1;

-- name: head_position
select coalesce(max(position), 0) from events;

-- name: group_state
-- Everything a writer needs to decide a group, in one round trip: the head, each stream's version (in
-- the order the streams were given) and any idempotency records the group's keys already have.
with head as (
    select position, recorded_at from events order by position desc limit 1
), known as (
    select key, encode(fingerprint, 'hex') as fingerprint, stream_id, first_position, event_count,
           stream_version
    from idempotency_keys where key = any($2::text[])
)
select (select position from head) as head,
       (select recorded_at from head) as head_at,
       array(select coalesce((select e.stream_version from events e
                              where e.stream_id = s.stream_id
                              order by e.stream_version desc limit 1), 0)
             from unnest($1::text[]) with ordinality as s(stream_id, ord)
             order by s.ord) as versions,
       (select json_agg(json_build_array(key, fingerprint, stream_id, first_position, event_count,
                                         stream_version))
        from known)::text as known;
