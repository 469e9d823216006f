-- 0003 merkle tree and checkpoints
-- Intent: the RFC 9162 tree over the log, kept as the hashes of its complete subtrees of 16 leaves or more
-- (each fixed forever once its last leaf is written), and every signed checkpoint. Smaller subtrees are
-- recomputed from `events.leaf_hash` on demand: at most 15 leaves per proof step, in the same read. Both
-- tables are append-only like the log, even for the owner; a superuser who edits them anyway is caught by
-- the signed checkpoints, whose key lives outside the database.
-- Lock cost: creates new tables only.

create table merkle_nodes (
    -- The subtree covering leaves index * 2^level up to (index + 1) * 2^level (0-based leaf indices:
    -- leaf i is the event at position i + 1).
    level   smallint not null,
    index   bigint   not null,
    hash    bytea    not null,
    constraint merkle_nodes_pkey primary key (level, index),
    constraint merkle_nodes_level_check check (level between 4 and 63),
    constraint merkle_nodes_index_check check (index >= 0),
    constraint merkle_nodes_hash_check check (octet_length(hash) = 32)
);

comment on table merkle_nodes is 'Complete subtree hashes of the log''s Merkle tree. Append-only.';

create table checkpoints (
    tree_size   bigint      not null,
    root        bytea       not null,
    -- The whole signed note, exactly as served: body, blank line, signature lines.
    note        text        not null,
    -- The signer's public key in C2SP verifier form (public: it is what inspectors check with).
    verifier    text        not null,
    signed_at   timestamptz not null,
    constraint checkpoints_pkey primary key (tree_size, verifier),
    constraint checkpoints_root_check check (octet_length(root) = 32)
);

comment on table checkpoints is 'Every signed tree head, newest last. Append-only.';

create trigger merkle_nodes_append_only
    before update or delete on merkle_nodes
    for each row execute function reject_log_change();
create trigger merkle_nodes_no_truncate
    before truncate on merkle_nodes
    for each statement execute function reject_log_change();
create trigger checkpoints_append_only
    before update or delete on checkpoints
    for each row execute function reject_log_change();
create trigger checkpoints_no_truncate
    before truncate on checkpoints
    for each statement execute function reject_log_change();

revoke all on merkle_nodes, checkpoints from public;
grant select, insert on merkle_nodes, checkpoints to qinglian_app;
