-- 0005 leaf hash check
-- Intent: the database itself refuses an event whose leaf hash is not SHA-256(0x00 || its canonical bytes),
-- so a row can only be made inconsistent by someone who first drops this constraint (the owner or a
-- superuser), and what they then change is caught by the signed checkpoints and `qinglian verify`, as any
-- other tampering is. sha256() is built in from PostgreSQL 11.
-- Lock cost: ADD ... NOT VALID takes an ACCESS EXCLUSIVE lock only for the catalog change; VALIDATE then
-- reads every existing row under SHARE UPDATE EXCLUSIVE, which lets appends go on
-- (https://www.postgresql.org/docs/15/sql-altertable.html#SQL-ALTERTABLE-NOTES). About a second per
-- million events.

alter table events
    add constraint events_leaf_hash_matches_check
    check (leaf_hash = sha256('\x00'::bytea || canonical)) not valid;
alter table events validate constraint events_leaf_hash_matches_check;
