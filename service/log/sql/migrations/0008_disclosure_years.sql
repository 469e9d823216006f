-- 0008 disclosure years
-- Intent: the disclosure rate as a stored projection beside the status segments. For each community and
-- each year at whose end it is in scope: its town then, and the first day by which it had disclosed in
-- every period that year's standard required (null: not yet). Whether a year was fully disclosed "as of"
-- a day only grows with the day (a published disclosure stays published), so the rate of a year as of any
-- day is one count over these rows: `disclosed_on <= day`. The status keeper writes them with the
-- segments, from the same pending marks, in the same transaction.
-- Lock cost: creates a new table only.

create table disclosure_years (
    generation    integer not null,
    community_id  text    not null,
    year          integer not null,
    -- The community's town at the end of the year.
    town_id       text,
    -- The first local date on which every required period of the year was disclosed; 0001-01-01 when the
    -- standard required none of this community that year; null while some period is still undisclosed.
    disclosed_on  date,
    -- The log position of the facts this row was computed from.
    position      bigint  not null,
    constraint disclosure_years_pkey primary key (generation, community_id, year)
);

create index disclosure_years_year_idx on disclosure_years (generation, year, town_id);

comment on table disclosure_years is
    'Per community and year: the day its disclosures for the year were complete; see status_pending.';

grant select, insert, update, delete on disclosure_years to qinglian_app;

-- Every community is recomputed from its registration, so its years are written too.
insert into status_pending (generation, community_id, since)
select generation, entity_id, date '0001-01-01' from facts where entity = 'community'
on conflict (generation, community_id) do update set since = excluded.since;
