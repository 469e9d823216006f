-- 0014 relay positions
-- Intent: where each relay of the log to a broker stands. A relay publishes every event in position order
-- and writes here the position through which the broker has acknowledged every event, only after the
-- acknowledgements; it resumes from here (or from the broker's own last message, if that is further: the
-- acknowledgements of a relay killed before it wrote). Operators read the lag and the last error here.
-- Lock cost: creates a new table only.

create table relay_positions (
    -- The relay's name (`qinglian relay --name`), one row each.
    name         text        primary key,
    -- Every event at or before this position has been acknowledged by the broker.
    position     bigint      not null default 0,
    -- How many events this relay has had acknowledged, since the row was made.
    published    bigint      not null default 0,
    updated_at   timestamptz not null default now(),
    -- The last failure, and when; null once it publishes again.
    last_error   text,
    failed_at    timestamptz,
    constraint relay_positions_position_check check (position >= 0)
);

comment on table relay_positions is
    'Each relay of the log to a broker: the position through which every event is acknowledged, and its last error.';

grant select, insert, update on relay_positions to qinglian_app;
