-- 0007 status segments
-- Intent: each community's status as a function of the local date, stored. Status is piecewise constant
-- (it changes only on a record's date, a due date passing, an age limit, a standard taking effect, a
-- registration or a transfer: projections/timeline.py), so it is kept as segments [valid_from, valid_to)
-- from the community's registration out to a horizon, each with what the status is and the log position
-- of the facts it was computed from. Generation-aware like facts, so a rebuild builds beside and switches.
-- status_pending lists the communities whose segments are behind their facts, and from which day: the
-- projector adds to it as it folds events (a standard revision: every community, from its effective
-- date), and a background worker recomputes them and removes them. A community pending is read from its
-- facts instead.
-- Lock cost: creates new tables only.

create table status_segments (
    generation       integer          not null,
    community_id     text             not null,
    valid_from       date             not null,
    valid_to         date             not null,
    -- The community's town on these days.
    town_id          text,
    in_scope         boolean          not null,
    standardized     boolean          not null,
    -- Share of the applicable criteria met, 0 to 1.
    score            double precision not null,
    standard_version integer,
    -- The criteria met, by id, and those unmet: [{"criterion", "kind", "since"}].
    met              text[]           not null,
    unmet            jsonb            not null,
    -- The log position of the facts this segment was computed from.
    position         bigint           not null,
    constraint status_segments_pkey primary key (generation, community_id, valid_from),
    constraint status_segments_range_check check (valid_from < valid_to)
);

-- "Which segment holds on day D" for every community at once: a range containment, which GiST answers
-- without reading the segments of other days.
create index status_segments_days_idx on status_segments using gist (daterange(valid_from, valid_to));

create table status_pending (
    generation   integer not null,
    community_id text    not null,
    -- Recompute from this local date on; the days before it are right as stored.
    since        date    not null,
    constraint status_pending_pkey primary key (generation, community_id)
);

comment on table status_segments is
    'Each community''s status by local date, as segments [valid_from, valid_to); see status_pending.';
comment on table status_pending is 'Communities whose status segments are behind their facts, from a day.';

grant select, insert, update, delete on status_segments, status_pending to qinglian_app;

-- Every community the facts already hold is behind: computed from its registration on.
insert into status_pending (generation, community_id, since)
select generation, entity_id, date '0001-01-01' from facts where entity = 'community';
