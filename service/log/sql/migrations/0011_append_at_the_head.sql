-- 0011 append at the head
-- Intent: the database itself refuses rows that do not extend the log by one position each: a statement's
-- new events must be contiguous, start right after the head it saw and leave nothing above them. The
-- writers already append only this way under the append lock; this stops any other inserting client (the
-- application role holds INSERT) from leaving a gap or writing ahead of the head. It is a statement-level
-- trigger over the transition table, so a group commit or a bulk COPY pays three index probes, not a
-- check per row (docs/architecture.md gives the measured cost).
-- Lock cost: CREATE TRIGGER takes a SHARE ROW EXCLUSIVE lock on events for the catalog change only.

create function events_follow_the_head() returns trigger
language plpgsql as $$
declare
    first_new bigint;
    last_new bigint;
    added bigint;
    head_before bigint;
begin
    select min(position), max(position), count(*) into first_new, last_new, added from inserted;
    if added = 0 then
        return null;
    end if;
    select coalesce(max(position), 0) into head_before from events where position < first_new;
    if last_new - first_new + 1 <> added
       or head_before <> first_new - 1
       or exists (select 1 from events where position > last_new) then
        raise exception 'events must extend the log at its head: positions % to % after head %',
            first_new, last_new, head_before
            using errcode = 'check_violation',
                  hint = 'Append through the service; it takes the append lock and the next position.';
    end if;
    return null;
end
$$;

create trigger events_follow_the_head
    after insert on events
    referencing new table as inserted
    for each statement execute function events_follow_the_head();
