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
