-- 0015 webhooks
-- Intent: endpoints an admin registers to have events delivered by HTTP POST (Standard Webhooks), and the
-- events they could not take. The outbox is the log itself read from each endpoint's position: the log is
-- durable and ordered, so an endpoint's position is all that delivery has to keep; an event is delivered
-- (or dead-lettered) before the position moves past it, and in position order. An endpoint is not a
-- programme record, and its secret must not be in the log: these are tables, not events.
-- Lock cost: creates new tables only.

create table webhook_endpoints (
    id               text        primary key,
    url              text        not null,
    -- Only events of these types (null: every type), of streams with this prefix (null: every stream).
    types            text[],
    stream_prefix    text,
    -- The signing secret, whsec_<base64>: shown once when registered; the service signs with it.
    secret           text        not null,
    created_at       timestamptz not null default now(),
    created_by       text        not null,
    removed_at       timestamptz,
    -- Every event at or before this position has been delivered or dead-lettered.
    position         bigint      not null,
    delivered        bigint      not null default 0,
    -- Failed attempts at the event after `position`, and when to try it again.
    attempts         integer     not null default 0,
    next_attempt_at  timestamptz not null default now(),
    last_error       text,
    failed_at        timestamptz,
    -- Which process delivers for it, until when (each process's worker takes the endpoints it can lease).
    leased_by        text,
    leased_until     timestamptz
);

create table webhook_dead_letters (
    endpoint_id      text        not null references webhook_endpoints (id),
    position         bigint      not null,
    event_id         uuid        not null,
    attempts         integer     not null,
    last_error       text,
    dead_at          timestamptz not null default now(),
    redelivered_at   timestamptz,
    constraint webhook_dead_letters_pkey primary key (endpoint_id, position)
);

comment on table webhook_endpoints is
    'Webhook endpoints: where events are POSTed, which ones, and how far delivery has come.';
comment on table webhook_dead_letters is
    'Events an endpoint did not take within the attempts allowed: skipped, kept here for redelivery.';

grant select, insert, update on webhook_endpoints, webhook_dead_letters to qinglian_app;
