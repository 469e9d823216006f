-- Delivery's named queries: what live status subscribers are told is read from the stored segments.
-- Loaded once by service/log/queries.py. Each block starts with "-- name: NAME".

-- name: live_generation
select generation from projection_checkpoints where name = $1;

-- name: standings_today
-- The segment holding on day $2 of every community in scope: all of them ($3 true), or those of the towns
-- $4, or the communities $5; with whether the community is pending (its segments are behind its facts).
select s.community_id, s.town_id, s.in_scope, s.standardized, s.score, s.standard_version,
       s.unmet::text as unmet, s.position, s.valid_from, s.valid_to,
       exists (select 1 from status_pending p
               where p.generation = $1 and p.community_id = s.community_id) as pending
from status_segments s
where s.generation = $1 and daterange(s.valid_from, s.valid_to) @> $2::date and s.known_to is null
  and ($3 or s.town_id = any($4::text[]) or s.community_id = any($5::text[]))
order by s.community_id;

-- name: relay_known
insert into relay_positions (name) values ($1) on conflict (name) do nothing;

-- name: relay_position
select position from relay_positions where name = $1;

-- name: relay_advance
-- Only after the broker acknowledged every event up to $2; never backwards.
update relay_positions
set position = greatest(position, $2), published = published + $3, updated_at = now(), last_error = null,
    failed_at = null
where name = $1;

-- name: relay_failed
update relay_positions set last_error = $2, failed_at = now() where name = $1;

-- name: relay_try_lead
-- Held for as long as the relay's own connection lives: a relay that dies lets another lead.
select pg_try_advisory_lock($1);

-- name: relays
select name, position, published, updated_at, last_error, failed_at,
       (select coalesce(max(position), 0) from events) - position as lag
from relay_positions order by name;

-- name: webhook_register
insert into webhook_endpoints (id, url, types, stream_prefix, secret, created_by, position)
values ($1, $2, $3, $4, $5, $6, $7);

-- name: webhook_one
select e.*, (select count(*) from webhook_dead_letters d where d.endpoint_id = e.id and d.redelivered_at is null)
         as dead_letters,
       greatest((select coalesce(max(position), 0) from events) - e.position, 0) as lag
from webhook_endpoints e where e.id = $1;

-- name: webhook_list
select e.*, (select count(*) from webhook_dead_letters d where d.endpoint_id = e.id and d.redelivered_at is null)
         as dead_letters,
       greatest((select coalesce(max(position), 0) from events) - e.position, 0) as lag
from webhook_endpoints e where $1 or e.removed_at is null order by e.created_at, e.id;

-- name: webhook_remove
update webhook_endpoints set removed_at = now() where id = $1 and removed_at is null returning id;

-- name: webhook_earliest_dead
select min(position) from webhook_dead_letters where endpoint_id = $1 and redelivered_at is null;

-- name: webhook_rewind
-- The lease is taken back too: a worker in the middle of a batch would otherwise move the position on
-- past the events to send again (its next write needs the lease, so it stops there instead).
with back as (
    update webhook_dead_letters set redelivered_at = now()
    where endpoint_id = $1 and position > $2 and redelivered_at is null
)
update webhook_endpoints
set position = $2, attempts = 0, next_attempt_at = now(), leased_by = null, leased_until = null
where id = $1;

-- name: webhook_claim
-- Endpoints due now with events after their position, free or already this worker's (but those it is
-- delivering for now, $5): leased for $2 s.
update webhook_endpoints
set leased_by = $1, leased_until = now() + make_interval(secs => $2)
where id in (
    select id from webhook_endpoints
    where removed_at is null and next_attempt_at <= now() and position < $3
      and (leased_until is null or leased_until < now() or leased_by = $1)
      and not (id = any($5::text[]))
    order by next_attempt_at limit $4
    for update skip locked
)
returning id, url, types, stream_prefix, secret, position, attempts, $3::bigint as head;

-- name: webhook_delivered
update webhook_endpoints
set position = $3, delivered = delivered + $5, attempts = 0, last_error = null, failed_at = null,
    next_attempt_at = now(), leased_until = now() + make_interval(secs => $4)
where id = $1 and leased_by = $2
returning position;

-- name: webhook_skip
update webhook_endpoints set position = greatest(position, $3) where id = $1 and leased_by = $2;

-- name: webhook_failed
update webhook_endpoints
set attempts = $5, last_error = $3, failed_at = now(), next_attempt_at = now() + make_interval(secs => $4)
where id = $1 and leased_by = $2;

-- name: webhook_dead_letter
with dead as (
    insert into webhook_dead_letters (endpoint_id, position, event_id, attempts, last_error)
    values ($1, $3, $4, $5, $6)
    on conflict (endpoint_id, position) do update
    set attempts = excluded.attempts, last_error = excluded.last_error, dead_at = now(), redelivered_at = null
)
update webhook_endpoints
set position = $3, attempts = 0, last_error = $6, failed_at = now(), next_attempt_at = now()
where id = $1 and leased_by = $2;

-- name: webhook_release
update webhook_endpoints set leased_by = null, leased_until = null where id = $1 and leased_by = $2;
