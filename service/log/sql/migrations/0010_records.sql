-- 0010 records
-- Intent: every programme record as a row of an indexed relational table, appended as its event is
-- projected (one row per fact the event adds; nothing is ever rewritten), generation-aware like `facts`
-- so a rebuild builds beside and switches. These tables are a public, read-only interface: a bureau's
-- BI tool may read them directly (docs/architecture.md, "Records in tables"). Each row keeps the log
-- position of the event it came from, so "as the log stood at size N" is `position <= N`, and the local
-- date on which it holds. Restricted text (report summaries, outcomes, rectification notes) is not here:
-- it lives beside the log in `restricted_values`.
-- Lock cost: creates new tables only.

create table community_registrations (
    generation    integer not null,
    community_id  text    not null,
    kind          text    not null,
    since         date    not null,
    position      bigint  not null,
    constraint community_registrations_pkey primary key (generation, position)
);

create table community_names (
    generation    integer not null,
    community_id  text    not null,
    name          text    not null,
    name_en       text,
    since         date    not null,
    position      bigint  not null,
    constraint community_names_pkey primary key (generation, position)
);

create table community_memberships (
    generation    integer not null,
    community_id  text    not null,
    town_id       text    not null,
    since         date    not null,
    position      bigint  not null,
    constraint community_memberships_pkey primary key (generation, position)
);

create table community_retirements (
    generation    integer not null,
    community_id  text    not null,
    reason        text    not null,
    since         date    not null,
    position      bigint  not null,
    constraint community_retirements_pkey primary key (generation, position)
);

create table disclosures (
    generation     integer not null,
    community_id   text    not null,
    disclosure_id  text    not null,
    category       text    not null,
    period         text    not null,
    channel        text    not null,
    published_on   date    not null,
    title          text    not null,
    digest         text    not null,
    position       bigint  not null,
    constraint disclosures_pkey primary key (generation, position)
);

create table disclosure_corrections (
    generation    integer not null,
    community_id  text    not null,
    corrects      text    not null,
    corrected_on  date    not null,
    title         text    not null,
    digest        text    not null,
    reason        text    not null,
    position      bigint  not null,
    constraint disclosure_corrections_pkey primary key (generation, position)
);

create table trainings (
    generation    integer          not null,
    community_id  text             not null,
    training_id   text             not null,
    kind          text             not null,
    held_on       date             not null,
    title         text             not null,
    attendees     integer          not null,
    hours         double precision not null,
    position      bigint           not null,
    constraint trainings_pkey primary key (generation, position)
);

create table rule_versions (
    generation    integer not null,
    community_id  text    not null,
    document      text    not null,
    version       integer not null,
    adopted_on    date    not null,
    adopted_by    text    not null,
    digest        text    not null,
    summary       text    not null,
    position      bigint  not null,
    constraint rule_versions_pkey primary key (generation, position)
);

create table meetings (
    generation    integer not null,
    community_id  text    not null,
    meeting_id    text    not null,
    kind          text    not null,
    held_on       date    not null,
    attendees     integer not null,
    position      bigint  not null,
    constraint meetings_pkey primary key (generation, position)
);

create table spot_checks (
    generation    integer not null,
    community_id  text    not null,
    check_id      text    not null,
    checked_on    date    not null,
    checked_by    text    not null,
    finding_ids   text[]  not null,
    position      bigint  not null,
    constraint spot_checks_pkey primary key (generation, position)
);

-- One spot check records any number of findings: one row each, all at the check's position.
create table findings (
    generation    integer not null,
    community_id  text    not null,
    finding_id    text    not null,
    check_id      text    not null,
    found_on      date    not null,
    summary       text    not null,
    position      bigint  not null,
    -- Where the finding stands among its check's findings, from 0.
    ordinal       integer not null,
    constraint findings_pkey primary key (generation, position, ordinal)
);

create table rectifications (
    generation    integer not null,
    community_id  text    not null,
    finding_id    text    not null,
    rectified_on  date    not null,
    position      bigint  not null,
    constraint rectifications_pkey primary key (generation, position)
);

create table reports (
    generation    integer not null,
    community_id  text    not null,
    report_id     text    not null,
    received_on   date    not null,
    channel       text    not null,
    position      bigint  not null,
    constraint reports_pkey primary key (generation, position)
);

create table report_closures (
    generation    integer not null,
    community_id  text    not null,
    report_id     text    not null,
    closed_on     date    not null,
    position      bigint  not null,
    constraint report_closures_pkey primary key (generation, position)
);

create table designations (
    generation     integer not null,
    community_id   text    not null,
    level          text    not null,
    designated_on  date    not null,
    title          text    not null,
    position       bigint  not null,
    constraint designations_pkey primary key (generation, position)
);

-- The person is an opaque reference to a record kept elsewhere (DESIGN: personal data never enters the log).
create table talents (
    generation     integer not null,
    community_id   text    not null,
    person_ref     text    not null,
    level          text    not null,
    recognized_on  date    not null,
    position       bigint  not null,
    constraint talents_pkey primary key (generation, position)
);

create table duty_reports (
    generation     integer not null,
    community_id   text    not null,
    year           integer not null,
    filed_on       date    not null,
    reporter_role  text    not null,
    position       bigint  not null,
    constraint duty_reports_pkey primary key (generation, position)
);

-- Per community, in log order: how the API pages a community's records (keyset on position), and how a
-- community's facts are read back whole.
create index community_registrations_community_idx on community_registrations (generation, community_id, position);
create index community_names_community_idx on community_names (generation, community_id, position);
create index community_memberships_community_idx on community_memberships (generation, community_id, position);
create index community_retirements_community_idx on community_retirements (generation, community_id, position);
create index disclosures_community_idx on disclosures (generation, community_id, position);
create index disclosure_corrections_community_idx on disclosure_corrections (generation, community_id, position);
create index trainings_community_idx on trainings (generation, community_id, position);
create index rule_versions_community_idx on rule_versions (generation, community_id, position);
create index meetings_community_idx on meetings (generation, community_id, position);
create index spot_checks_community_idx on spot_checks (generation, community_id, position);
create index findings_community_idx on findings (generation, community_id, position);
create index rectifications_community_idx on rectifications (generation, community_id, position);
create index reports_community_idx on reports (generation, community_id, position);
create index report_closures_community_idx on report_closures (generation, community_id, position);
create index designations_community_idx on designations (generation, community_id, position);
create index talents_community_idx on talents (generation, community_id, position);
create index duty_reports_community_idx on duty_reports (generation, community_id, position);

-- What a bureau's reports ask across communities: by date.
create index disclosures_published_idx on disclosures (generation, published_on);
create index trainings_held_idx on trainings (generation, held_on);
create index meetings_held_idx on meetings (generation, held_on);
create index spot_checks_checked_idx on spot_checks (generation, checked_on);

comment on table community_registrations is 'Each community''s registration: its kind and the local date it holds from.';
comment on table community_names is 'Each community''s names over time (registration and renames), by the date each holds from.';
comment on table community_memberships is 'Which town each community belonged to from which date (registration and transfers).';
comment on table community_retirements is 'Communities retired, from which date.';
comment on table disclosures is 'Every disclosure (公开) published, as recorded; corrections are in disclosure_corrections.';
comment on table disclosure_corrections is 'Corrections of disclosures (corrects: the disclosure_id corrected).';
comment on table trainings is 'Integrity education (清廉教育) held.';
comment on table rule_versions is 'Each adopted version of a community''s rules and lists (村规民约, 小微权力清单 …).';
comment on table meetings is 'Meetings held (representatives, supervision committee …).';
comment on table spot_checks is 'Spot checks (抽查) recorded, with the ids of their findings.';
comment on table findings is 'Findings of spot checks, one row each; rectifications are in rectifications.';
comment on table rectifications is 'Findings rectified (整改), by finding id and date.';
comment on table reports is 'Reports received (信访举报), without their text (restricted, beside the log).';
comment on table report_closures is 'Reports closed, by report id and date.';
comment on table designations is 'Demonstration-point designations (示范点).';
comment on table talents is 'Leading talents recognized; the person is an opaque reference kept elsewhere.';
comment on table duty_reports is 'Annual duty reports (述责述廉) filed.';

-- Read-only for everyone but the service: the service appends, and deletes an old generation after a rebuild.
grant select, insert, delete on
    community_registrations, community_names, community_memberships, community_retirements, disclosures,
    disclosure_corrections, trainings, rule_versions, meetings, spot_checks, findings, rectifications,
    reports, report_closures, designations, talents, duty_reports
to qinglian_app;

-- A community's facts are these rows from now on, no longer a document in `facts`. The live generation's
-- records are written by a rebuild, which `serve` runs in the background when the projection has passed
-- registrations but holds no records (service/read/records.py, `records_missing`).
delete from facts where entity = 'community';
