-- 0002 projections
-- Intent: the read side. `facts` holds, per generation, the folded facts of every town, community and
-- standard version; `projection_checkpoints` says which generation is live and how far it has read.
-- A rebuild writes the next generation beside the live one and switches by updating one row, so readers
-- never see a half-built view and the application role needs no DDL.
-- Lock cost: creates new tables only.

create table projection_checkpoints (
    name        text        not null,
    generation  integer     not null,
    position    bigint      not null,
    updated_at  timestamptz not null default now(),
    constraint projection_checkpoints_pkey primary key (name),
    constraint projection_checkpoints_position_check check (position >= 0)
);

create table facts (
    generation  integer     not null,
    -- 'town', 'community' or 'standard'
    entity      text        not null,
    entity_id   text        not null,
    -- The last log position that changed this entity's facts.
    position    bigint      not null,
    -- The community's town today, for filters; its history is in the body.
    town_id     text,
    body        jsonb       not null,
    constraint facts_pkey primary key (generation, entity, entity_id),
    constraint facts_entity_check check (entity in ('town', 'community', 'standard'))
);

insert into projection_checkpoints (name, generation, position) values ('facts', 1, 0);

-- Views are not the log: the service keeps them, so it may change them.
grant select, insert, update, delete on projection_checkpoints, facts to qinglian_app;
