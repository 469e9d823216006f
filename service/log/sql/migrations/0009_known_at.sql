-- 0009 status as the log stood
-- Intent: bitemporal status. A stored segment (and a disclosure year) is no longer deleted when the
-- community is recomputed: it is closed, `known_to` set to the log position of the first event that made
-- it wrong, and the new rows are known from the position of the facts they were computed from (the
-- existing `position` column). So the rows that hold "as the log stood at size N" are those with
-- position <= N < known_to (or known_to null). `status_versions` records each computation's span of
-- knowledge per community: a size between the event that made a community pending and the facts the
-- keeper then computed from (several events folded at once) is in no span, and a reader asking for it
-- evaluates that community from its facts as they stood instead. `status_pending.from_position` is the
-- first event that made the community pending, which is where the current rows stop being known.
-- Lock cost: alters the three status tables (small, rebuilt by the keeper) and creates one.

alter table status_segments add column known_to bigint;
alter table status_segments drop constraint status_segments_pkey;
-- Rows of one community and day may now be of several computations, which differ in `position`.
alter table status_segments add constraint status_segments_pkey
    primary key (generation, community_id, valid_from, position);
alter table status_segments add constraint status_segments_known_check
    check (known_to is null or known_to > position);
-- Today's reads look only at rows still known: the GiST index over the days holds only those. Reads as the
-- log stood use the second, over every row.
drop index status_segments_days_idx;
create index status_segments_days_idx on status_segments using gist (daterange(valid_from, valid_to))
    where known_to is null;
create index status_segments_known_days_idx on status_segments
    using gist (daterange(valid_from, valid_to), int8range(position, known_to));

alter table disclosure_years add column known_to bigint;
alter table disclosure_years drop constraint disclosure_years_pkey;
alter table disclosure_years add constraint disclosure_years_pkey
    primary key (generation, community_id, year, position);
alter table disclosure_years add constraint disclosure_years_known_check
    check (known_to is null or known_to > position);
drop index disclosure_years_year_idx;
create index disclosure_years_year_idx on disclosure_years (generation, year, town_id) where known_to is null;
create index disclosure_years_known_idx on disclosure_years (generation, year, position);

-- Null for a mark that no event made (the horizon moved): the rows are extended, not corrected.
alter table status_pending add column from_position bigint;

create table status_versions (
    generation    integer not null,
    community_id  text    not null,
    -- The position of the facts this computation used, and of the first event after them that changed
    -- the community's status (null: none yet).
    known_from    bigint  not null,
    known_to      bigint,
    constraint status_versions_pkey primary key (generation, community_id, known_from),
    constraint status_versions_known_check check (known_to is null or known_to > known_from)
);

comment on table status_versions is
    'Per community: the spans of log sizes over which its stored status rows are exact; see status_segments.';

grant select, insert, update, delete on status_versions to qinglian_app;

-- The rows stored so far came with no record of their span: every community is recomputed, from nothing.
delete from status_segments;
delete from disclosure_years;
insert into status_pending (generation, community_id, since, from_position)
select generation, entity_id, date '0001-01-01', 0 from facts where entity = 'community'
on conflict (generation, community_id) do update set since = excluded.since, from_position = 0;
