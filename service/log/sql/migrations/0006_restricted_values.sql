-- 0006 restricted values
-- Intent: free text that may describe a person (a report's summary and outcome, a rectification note) is
-- kept out of the log's hashed bytes from schema version 2 on: the event carries SHA-256(salt || value)
-- and the salt and the value live here, keyed by the event's position and the payload field. Erasing one
-- sets its salt and value to null and names the Erased event that says so: the log, every checkpoint and
-- every export still verify, and the text is gone. A row with neither salt nor value, for an event of
-- schema version 1, records that its inline text was erased (the service then withholds it).
-- The service may read, insert and erase, never rewrite: a trigger allows an update only from a value to
-- null, and nothing may be deleted, so an erasure is always accounted for by an event in the log.
-- The facts projection is rebuilt from the log on the next start: its stored facts held the text of the
-- records whose text is now sealed, and no longer do.
-- Lock cost: creates a new table; builds a partial index on events (a SHARE lock: appends wait while it is
-- built, about a second per million events); empties the facts table (a rebuild from the log follows).

create table restricted_values (
    position    bigint  not null,
    field       text    not null,
    salt        bytea,
    value       text,
    -- The position of the Erased event that erased this value; null while it is held.
    erased_by   bigint,
    constraint restricted_values_pkey primary key (position, field),
    constraint restricted_values_salt_check check (salt is null or octet_length(salt) = 32),
    constraint restricted_values_held_check check ((salt is null) = (value is null)),
    constraint restricted_values_erased_check check ((value is null) = (erased_by is not null)),
    constraint restricted_values_order_check check (erased_by is null or erased_by > position)
);

comment on table restricted_values is
    'Salt and value of each sealed field, beside the log; null once erased by the Erased event named.';

create function restrict_value_change() returns trigger
language plpgsql as $$
begin
    if tg_op = 'UPDATE' and new.position = old.position and new.field = old.field
       and old.value is not null and new.value is null and new.salt is null
       and new.erased_by is not null then
        return new;
    end if;
    raise exception 'restricted values may only be erased (salt and value set to null): % is not allowed', tg_op
        using errcode = 'insufficient_privilege',
              hint = 'Erase with `qinglian erase`, which records an Erased event.';
end
$$;

create trigger restricted_values_erase_only
    before update or delete on restricted_values
    for each row execute function restrict_value_change();
create trigger restricted_values_no_truncate
    before truncate on restricted_values
    for each statement execute function reject_log_change();

revoke all on restricted_values from public;
grant select, insert, update (salt, value, erased_by) on restricted_values to qinglian_app;

-- `qinglian erase RECORD-ID` finds a record's events holding restricted text by the record's id.
create index events_record_text_idx on events (coalesce(payload->>'report_id', payload->>'finding_id'))
    where type in ('ReportReceived', 'ReportClosed', 'FindingRectified');

delete from facts;
update projection_checkpoints set generation = generation + 1, position = 0 where name = 'facts';
