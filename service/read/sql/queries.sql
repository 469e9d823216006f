-- The read side's named queries: the projector's checkpoint and the stored facts.
-- Loaded once by service/log/queries.py. Each block starts with "-- name: NAME".
-- Parameters are $1..$n; Python never pastes values into SQL.

-- name: checkpoint_for_update
-- Row lock: one runner at a time advances a projection, however many replicas run one.
select generation, position from projection_checkpoints where name = $1 for update;

-- name: checkpoint
select generation, position from projection_checkpoints where name = $1;

-- name: advance_checkpoint
update projection_checkpoints set generation = $2, position = $3, updated_at = now() where name = $1;

-- name: load_facts
select f.entity, f.entity_id, f.body::text as body
from facts f
join unnest($2::text[], $3::text[]) as k(entity, entity_id)
  on f.entity = k.entity and f.entity_id = k.entity_id
where f.generation = $1;

-- name: facts_changed_after
-- Everything in the live generation that changed after a position: how a cached read model refreshes.
select entity, entity_id, position, body::text as body
from facts where generation = $1 and position > $2 and entity <> 'community';

-- name: save_facts
insert into facts (generation, entity, entity_id, position, town_id, body)
select $1, k.entity, k.entity_id, k.position, k.town_id, k.body::jsonb
from unnest($2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[])
     as k(entity, entity_id, position, town_id, body)
on conflict (generation, entity, entity_id)
do update set position = excluded.position, town_id = excluded.town_id, body = excluded.body;

-- name: drop_generation
delete from facts where generation = $1;

-- name: restricted_at
-- The sealed (or erased) restricted text of the events at these positions.
select position, field, salt, value, erased_by
from restricted_values
where position = any($1::bigint[])
order by position, field;

-- name: erase_values
-- Carry out an Erased event (at position $3): the salt and value of each named field set to null, or, for
-- an event of schema version 1 whose text is inline, a row saying it was erased. Repeating it changes
-- nothing: a value already erased keeps the position of the event that erased it first.
insert into restricted_values (position, field, salt, value, erased_by)
select e.position, e.field, null, null, $3::bigint
from unnest($1::bigint[], $2::text[]) as e(position, field)
on conflict (position, field) do update
    set salt = null, value = null, erased_by = excluded.erased_by
    where restricted_values.value is not null;

-- name: record_texts
-- The events holding restricted text of the report or finding with id $1 (in any community).
select position, type, payload->>'community_id' as community_id
from events
where type in ('ReportReceived', 'ReportClosed', 'FindingRectified')
  and coalesce(payload->>'report_id', payload->>'finding_id') = $1
order by position;

-- name: mark_status_pending
-- Communities whose status segments must be recomputed from a day, because of the event at a position;
-- the earlier day and the earlier position win.
insert into status_pending (generation, community_id, since, from_position)
select $1, k.community_id, k.since, k.from_position
from unnest($2::text[], $3::date[], $4::bigint[]) as k(community_id, since, from_position)
on conflict (generation, community_id) do update set since = least(status_pending.since, excluded.since),
    from_position = least(status_pending.from_position, excluded.from_position);

-- name: mark_all_status_pending
-- A standard revised at position $3: every community of the generation, from the day it takes effect.
insert into status_pending (generation, community_id, since, from_position)
select distinct $1::int, community_id, $2::date, $3::bigint from community_registrations where generation = $1
on conflict (generation, community_id) do update set since = least(status_pending.since, excluded.since),
    from_position = least(status_pending.from_position, excluded.from_position);

-- name: take_status_pending
-- A batch of pending communities, locked: replicas' workers take different ones.
select community_id, since, from_position from status_pending where generation = $1
order by community_id limit $2 for update skip locked;

-- name: status_pending_count
select count(*) from status_pending where generation = $1;

-- name: load_standards
select body::text as body from facts where generation = $1 and entity = 'standard';

-- name: load_segments
select community_id, valid_from, valid_to, town_id, in_scope, standardized, score, standard_version, met,
       unmet::text as unmet, position
from status_segments where generation = $1 and community_id = any($2::text[]) and known_to is null
order by community_id, valid_from;

-- name: close_segments
-- Segments a recomputation replaced, by community and first day: no longer known from the position of the
-- event that made them wrong ($4; null: none did, the horizon moved, and they are dropped), or dropped when
-- that position is not after theirs (they were never right: the marks of a rebuild or a migration).
with replaced as (
    select k.community_id, k.valid_from, k.known_to
    from unnest($2::text[], $3::date[], $4::bigint[]) as k(community_id, valid_from, known_to)
), dropped as (
    delete from status_segments s using replaced r
    where s.generation = $1 and s.community_id = r.community_id and s.valid_from = r.valid_from
      and s.known_to is null and (r.known_to is null or r.known_to <= s.position)
)
update status_segments s set known_to = r.known_to
from replaced r
where s.generation = $1 and s.community_id = r.community_id and s.valid_from = r.valid_from
  and s.known_to is null and r.known_to > s.position;

-- name: close_disclosure_years
-- The same for disclosure years, by community and year.
with replaced as (
    select k.community_id, k.year, k.known_to
    from unnest($2::text[], $3::int[], $4::bigint[]) as k(community_id, year, known_to)
), dropped as (
    delete from disclosure_years y using replaced r
    where y.generation = $1 and y.community_id = r.community_id and y.year = r.year
      and y.known_to is null and (r.known_to is null or r.known_to <= y.position)
)
update disclosure_years y set known_to = r.known_to
from replaced r
where y.generation = $1 and y.community_id = r.community_id and y.year = r.year
  and y.known_to is null and r.known_to > y.position;

-- name: load_disclosure_years
select community_id, year, town_id, disclosed_on, position
from disclosure_years where generation = $1 and community_id = any($2::text[]) and known_to is null;

-- name: load_status_versions
-- The span of knowledge the current rows of these communities were computed for.
select community_id, known_from from status_versions
where generation = $1 and community_id = any($2::text[]) and known_to is null;

-- name: next_status_versions
-- A computation at position $4 per community, after the event at $3 made the last one wrong ($3 null: no
-- event did, the horizon moved; the span goes on).
with ended as (
    select k.community_id, k.from_position, k.known_from
    from unnest($2::text[], $3::bigint[], $4::bigint[]) as k(community_id, from_position, known_from)
), dropped as (
    delete from status_versions v using ended e
    where v.generation = $1 and v.community_id = e.community_id and v.known_to is null
      and e.from_position is not null and e.from_position <= v.known_from
), closed as (
    update status_versions v set known_to = e.from_position
    from ended e
    where v.generation = $1 and v.community_id = e.community_id and v.known_to is null
      and e.from_position > v.known_from
)
insert into status_versions (generation, community_id, known_from)
select $1, e.community_id, e.known_from from ended e where e.from_position is not null
on conflict (generation, community_id, known_from) do nothing;

-- name: done_status_pending
delete from status_pending p
using unnest($2::text[], $3::date[], $4::bigint[]) as k(community_id, since, from_position)
where p.generation = $1 and p.community_id = k.community_id and p.since = k.since
  and p.from_position is not distinct from k.from_position;

-- name: status_changed
-- Delivered at commit, so a listener that reads after hearing it sees what the batch wrote.
select pg_notify($1, '');

-- name: drop_status_generation
with years as (delete from disclosure_years where generation = $1),
     versions as (delete from status_versions where generation = $1)
delete from status_segments where generation = $1;

-- name: disclosure_series
-- For the year $2, on each day $3, per town: communities in scope at the year's end, and how many had
-- disclosed every required period by that day; then, with a null day, the communities still pending (the
-- caller counts them from their facts). The rows are first grouped by town and completion day (a few
-- hundred groups however many communities), and the days are joined to those groups.
with pending as (
    select community_id from status_pending where generation = $1
), complete as (
    select y.town_id, y.disclosed_on, count(*) as n
    from disclosure_years y
    where y.generation = $1 and y.year = $2 and y.known_to is null
      and y.community_id not in (select community_id from pending)
    group by y.town_id, y.disclosed_on
)
select d.day, c.town_id, sum(c.n)::int as communities,
       coalesce(sum(c.n) filter (where c.disclosed_on <= d.day), 0)::int as disclosed,
       null::text as community_id
from unnest($3::date[]) as d(day)
cross join complete c
group by d.day, c.town_id
union all
select null, null, null, null, community_id from pending;

-- name: drop_status_pending_generation
delete from status_pending where generation = $1;

-- name: status_on
-- Every community's segment holding on day $2.
select community_id, town_id, in_scope, standardized, score, standard_version, position
from status_segments
where generation = $1 and daterange(valid_from, valid_to) @> $2::date and known_to is null;

-- name: extend_segments
-- The horizon moved to $2: every community whose last segment ends before it is pending from that end.
insert into status_pending (generation, community_id, since)
select $1, community_id, max(valid_to) from status_segments where generation = $1 and known_to is null
group by community_id having max(valid_to) <= $2::date
on conflict (generation, community_id) do update set since = least(status_pending.since, excluded.since);

-- name: coverage_series
-- For each day, per town: communities in scope and how many were standardized, from the stored segments;
-- then, with a null day, the communities still pending, which are left out of the counts (the caller
-- counts them from their facts). One statement, so both are of one snapshot; one index probe a day.
with pending as (
    select community_id from status_pending where generation = $1
)
select d.day, s.town_id, count(*) as communities, count(*) filter (where s.standardized) as standardized,
       null::text as community_id
from unnest($2::date[]) as d(day)
join status_segments s
  on s.generation = $1 and daterange(s.valid_from, s.valid_to) @> d.day and s.in_scope and s.known_to is null
where s.community_id not in (select community_id from pending)
group by d.day, s.town_id
union all
select null, null, null, null, community_id from pending;

-- name: standings_on
-- Every community's status on day $2 from its segment, but for the communities still pending.
select s.community_id, s.standardized, s.score
from status_segments s
where s.generation = $1 and daterange(s.valid_from, s.valid_to) @> $2::date and s.known_to is null
  and s.community_id not in (select community_id from status_pending where generation = $1);

-- name: coverage_series_known
-- `coverage_series` as the log stood at size $3: the rows known then (through the index over both ranges),
-- of the communities whose rows are exact at that size (`status_exact_at`, migration 0012); then, with a
-- null day, those communities, so the caller counts every other one known then from its facts as they
-- stood.
with exact as (
    select community_id from status_exact_at($1, $3) as community_id
)
select d.day, s.town_id, count(*) as communities, count(*) filter (where s.standardized) as standardized,
       null::text as community_id
from unnest($2::date[]) as d(day)
join status_segments s
  on s.generation = $1 and daterange(s.valid_from, s.valid_to) @> d.day
 and int8range(s.position, s.known_to) @> $3::bigint and s.in_scope
where s.community_id in (select community_id from exact)
group by d.day, s.town_id
union all
select null, null, null, null, community_id from exact;

-- name: standings_on_known
-- `standings_on` as the log stood at size $3, for the communities exact at that size (as above).
with exact as (
    select community_id from status_exact_at($1, $3) as community_id
)
select s.community_id, s.standardized, s.score
from status_segments s
where s.generation = $1 and daterange(s.valid_from, s.valid_to) @> $2::date
  and int8range(s.position, s.known_to) @> $3::bigint
  and s.community_id in (select community_id from exact);

-- name: disclosure_series_known
-- `disclosure_series` as the log stood at size $4: the years known then, of the communities exact at that
-- size (as above); then, with a null day, those communities.
with exact as (
    select community_id from status_exact_at($1, $4) as community_id
), complete as (
    select y.town_id, y.disclosed_on, count(*) as n
    from disclosure_years y
    where y.generation = $1 and y.year = $2 and y.position <= $4
      and (y.known_to is null or y.known_to > $4) and y.community_id in (select community_id from exact)
    group by y.town_id, y.disclosed_on
)
select d.day, c.town_id, sum(c.n)::int as communities,
       coalesce(sum(c.n) filter (where c.disclosed_on <= d.day), 0)::int as disclosed,
       null::text as community_id
from unnest($3::date[]) as d(day)
cross join complete c
group by d.day, c.town_id
union all
select null, null, null, null, community_id from exact;

-- name: commit_without_flush
-- For the transaction it runs in: its commit does not wait for its WAL to reach the disk. A rebuild's
-- pages only (service/read/projector.py): the switch's commit waits, and so flushes theirs.
set local synchronous_commit = off;

-- name: drop_records_generation
-- Every record of a generation (service/read/records.py): one statement for the seventeen tables.
with a as (delete from community_registrations where generation = $1),
     b as (delete from community_names where generation = $1),
     c as (delete from community_memberships where generation = $1),
     d as (delete from community_retirements where generation = $1),
     e as (delete from disclosures where generation = $1),
     f as (delete from disclosure_corrections where generation = $1),
     g as (delete from trainings where generation = $1),
     h as (delete from rule_versions where generation = $1),
     i as (delete from meetings where generation = $1),
     j as (delete from spot_checks where generation = $1),
     k as (delete from findings where generation = $1),
     l as (delete from rectifications where generation = $1),
     m as (delete from reports where generation = $1),
     n as (delete from report_closures where generation = $1),
     o as (delete from designations where generation = $1),
     p as (delete from talents where generation = $1)
delete from duty_reports where generation = $1;

-- name: records_missing
-- The projection has passed a community's registration ($2: its position) but holds no record, or holds a
-- name without its sort key (written before migration 0013).
select (exists (select 1 from events where type = 'CommunityRegistered' and position <= $2)
        and not exists (select 1 from community_registrations where generation = $1))
    or exists (select 1 from community_names where generation = $1 and name_key is null);

-- name: load_community_records
-- The facts of the communities $2 as the log stood at size $3, from the record tables: per community and
-- kind of fact, the rows as one JSON array in log order (service/read/records.py decodes them).
select community_id, 'registrations' as field, max(position) as last, json_agg(t order by position)::text as items
from community_registrations t where generation = $1 and community_id = any($2::text[]) and position <= $3
group by community_id
union all
select community_id, 'names' as field, max(position) as last, json_agg(t order by position)::text as items
from community_names t where generation = $1 and community_id = any($2::text[]) and position <= $3
group by community_id
union all
select community_id, 'memberships' as field, max(position) as last, json_agg(t order by position)::text as items
from community_memberships t where generation = $1 and community_id = any($2::text[]) and position <= $3
group by community_id
union all
select community_id, 'retirements' as field, max(position) as last, json_agg(t order by position)::text as items
from community_retirements t where generation = $1 and community_id = any($2::text[]) and position <= $3
group by community_id
union all
select community_id, 'disclosures' as field, max(position) as last, json_agg(t order by position)::text as items
from disclosures t where generation = $1 and community_id = any($2::text[]) and position <= $3
group by community_id
union all
select community_id, 'corrections' as field, max(position) as last, json_agg(t order by position)::text as items
from disclosure_corrections t where generation = $1 and community_id = any($2::text[]) and position <= $3
group by community_id
union all
select community_id, 'trainings' as field, max(position) as last, json_agg(t order by position)::text as items
from trainings t where generation = $1 and community_id = any($2::text[]) and position <= $3
group by community_id
union all
select community_id, 'rules' as field, max(position) as last, json_agg(t order by position)::text as items
from rule_versions t where generation = $1 and community_id = any($2::text[]) and position <= $3
group by community_id
union all
select community_id, 'meetings' as field, max(position) as last, json_agg(t order by position)::text as items
from meetings t where generation = $1 and community_id = any($2::text[]) and position <= $3
group by community_id
union all
select community_id, 'spot_checks' as field, max(position) as last, json_agg(t order by position)::text as items
from spot_checks t where generation = $1 and community_id = any($2::text[]) and position <= $3
group by community_id
union all
select community_id, 'findings' as field, max(position) as last, json_agg(t order by position, ordinal)::text as items
from findings t where generation = $1 and community_id = any($2::text[]) and position <= $3
group by community_id
union all
select community_id, 'rectifications' as field, max(position) as last, json_agg(t order by position)::text as items
from rectifications t where generation = $1 and community_id = any($2::text[]) and position <= $3
group by community_id
union all
select community_id, 'reports' as field, max(position) as last, json_agg(t order by position)::text as items
from reports t where generation = $1 and community_id = any($2::text[]) and position <= $3
group by community_id
union all
select community_id, 'report_closures' as field, max(position) as last, json_agg(t order by position)::text as items
from report_closures t where generation = $1 and community_id = any($2::text[]) and position <= $3
group by community_id
union all
select community_id, 'designations' as field, max(position) as last, json_agg(t order by position)::text as items
from designations t where generation = $1 and community_id = any($2::text[]) and position <= $3
group by community_id
union all
select community_id, 'talents' as field, max(position) as last, json_agg(t order by position)::text as items
from talents t where generation = $1 and community_id = any($2::text[]) and position <= $3
group by community_id
union all
select community_id, 'duty_reports' as field, max(position) as last, json_agg(t order by position)::text as items
from duty_reports t where generation = $1 and community_id = any($2::text[]) and position <= $3
group by community_id;

-- name: community_page
-- The communities in scope on day $2 as the log stood at size $3 (registered by then, and not retired by
-- then by its first retirement), with the kind of their first registration, their name and its sort key
-- and their town on the day (the latest effective date wins, then the later record; before any name took
-- effect, the first name) and the designation levels held by the day; those passing the filters $4-$7
-- (null: any): town, kind, a designation level, a text the name contains (case-insensitively). Sorted by
-- the name's pinyin key (projections/ordering.py; a row written before migration 0013 has none and sorts
-- by its name), then the name, then id, each in code point order as the cursor compares (no name sorts
-- as ''), descending if $8; after the cursor's key $9, name $10 and id $11 (null: from the start); at
-- most $12 of them (null: all). Each row also carries how many pass the filters in all and how many of
-- those precede the cursor. One pass over each table (`distinct on`), not a lookup per community.
with registered as (
    select distinct on (community_id) community_id, kind, since
    from community_registrations where generation = $1 and position <= $3
    order by community_id, position
), retired as (
    select distinct on (community_id) community_id, since
    from community_retirements where generation = $1 and position <= $3
    order by community_id, position
), named as (
    select distinct on (community_id) community_id, name, name_key
    from community_names where generation = $1 and position <= $3
    order by community_id, since <= $2 desc, case when since <= $2 then since end desc,
             case when since <= $2 then -position else position end
), placed as (
    select distinct on (community_id) community_id, town_id
    from community_memberships where generation = $1 and position <= $3 and since <= $2
    order by community_id, since desc, position desc
), designated as (
    select community_id, array_agg(distinct level) as levels
    from designations where generation = $1 and position <= $3 and designated_on <= $2
    group by community_id
), chosen as (
    select r.community_id collate "C" as community_id, r.kind, n.name, p.town_id,
           coalesce(d.levels, '{}') as levels, coalesce(n.name_key, n.name, '') collate "C" as key,
           coalesce(n.name, '') collate "C" as tie
    from registered r
    left join retired x on x.community_id = r.community_id
    left join named n on n.community_id = r.community_id
    left join placed p on p.community_id = r.community_id
    left join designated d on d.community_id = r.community_id
    where r.since <= $2 and coalesce(x.since, 'infinity'::date) > $2
      and ($4::text is null or p.town_id = $4::text)
      and ($5::text is null or r.kind = $5::text)
      and ($6::text is null or $6::text = any(d.levels))
      and ($7::text is null or strpos(lower(coalesce(n.name, '')), lower($7::text)) > 0)
), page as (
    select c.community_id, c.kind, c.name, c.key, c.town_id, c.levels
    from chosen c
    where $9::text is null
       or case when $8::boolean then (c.key, c.tie, c.community_id) < ($9::text, $10::text, $11::text)
               else (c.key, c.tie, c.community_id) > ($9::text, $10::text, $11::text) end
    order by case when $8::boolean then c.key end desc, case when $8::boolean then c.tie end desc,
             case when $8::boolean then c.community_id end desc, c.key, c.tie, c.community_id
    limit $12::bigint
)
-- The page's rows (in no particular order: the caller sorts them, as the cursor compares), then one row
-- without a community that counts.
select community_id, kind, name, key, town_id, levels, null::bigint as total, null::bigint as before
from page
union all
select null, null, null, null, null, null, count(*),
       count(*) filter (where $9::text is not null and case when $8::boolean
                        then (c.key, c.tie, c.community_id) >= ($9::text, $10::text, $11::text)
                        else (c.key, c.tie, c.community_id) <= ($9::text, $10::text, $11::text) end)
from chosen c;

-- name: community_ids_known
-- Every community registered as the log stood at size $2.
select distinct community_id from community_registrations where generation = $1 and position <= $2;

-- name: last_activity_on
-- For the communities $4: the latest day on or before $2, as the log stood at size $3, on which each did
-- something the log records (projections.summaries.last_activity).
select community_id, max(day) as day from (
    select community_id, published_on as day from disclosures
    where generation = $1 and position <= $3 and published_on <= $2 and community_id = any($4::text[])
    union all
    select community_id, corrected_on from disclosure_corrections
    where generation = $1 and position <= $3 and corrected_on <= $2 and community_id = any($4::text[])
    union all
    select community_id, held_on from trainings
    where generation = $1 and position <= $3 and held_on <= $2 and community_id = any($4::text[])
    union all
    select community_id, adopted_on from rule_versions
    where generation = $1 and position <= $3 and adopted_on <= $2 and community_id = any($4::text[])
    union all
    select community_id, held_on from meetings
    where generation = $1 and position <= $3 and held_on <= $2 and community_id = any($4::text[])
    union all
    select community_id, checked_on from spot_checks
    where generation = $1 and position <= $3 and checked_on <= $2 and community_id = any($4::text[])
    union all
    select community_id, rectified_on from rectifications
    where generation = $1 and position <= $3 and rectified_on <= $2 and community_id = any($4::text[])
    union all
    select community_id, filed_on from duty_reports
    where generation = $1 and position <= $3 and filed_on <= $2 and community_id = any($4::text[])
) days group by community_id;

-- name: town_of_community
-- The community's town on day $3 (for deciding who may read its stream).
select town_id from community_memberships
where generation = $1 and community_id = $2 and since <= $3
order by since desc, position desc limit 1;
