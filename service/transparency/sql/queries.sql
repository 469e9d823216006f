-- Transparency's named queries: the Merkle tree's stored subtrees, checkpoints and exports.
-- Loaded once by service/log/queries.py. Each block starts with "-- name: NAME".
-- Parameters are $1..$n; Python never pastes values into SQL.

-- name: take_seal_lock
-- One sealer at a time, however many replicas run one; released at commit.
select pg_advisory_xact_lock($1::bigint);

-- name: sealed_size
-- How many leaves the stored subtrees cover: every 16-leaf subtree is stored before any after it.
select coalesce(max(index) + 1, 0) * 16 from merkle_nodes where level = 4;

-- name: leaf_hashes
-- Leaf i is the event at position i + 1, so leaves start <= i < end are positions start < p <= end.
select leaf_hash from events where position > $1 and position <= $2 order by position;

-- name: leaf_hashes_in_ranges
select r.ord, e.leaf_hash
from unnest($1::bigint[], $2::bigint[]) with ordinality as r(lo, hi, ord)
join events e on e.position > r.lo and e.position <= r.hi
order by r.ord, e.position;

-- name: merkle_nodes
select k.ord, n.hash
from unnest($1::smallint[], $2::bigint[]) with ordinality as k(level, index, ord)
join merkle_nodes n on n.level = k.level and n.index = k.index
order by k.ord;

-- name: save_merkle_nodes
insert into merkle_nodes (level, index, hash)
select * from unnest($1::smallint[], $2::bigint[], $3::bytea[]);

-- name: take_sign_lock
-- One signer at a time across replicas and the CLI, so two never sign diverging heads; released at commit.
select pg_advisory_xact_lock($1::bigint);

-- name: latest_checkpoint
select tree_size, root, note, verifier, signed_at from checkpoints
order by tree_size desc, signed_at desc limit 1;

-- name: latest_checkpoint_of
select tree_size, root, note, verifier, signed_at from checkpoints
where verifier = $1 order by tree_size desc limit 1;

-- name: save_checkpoint
insert into checkpoints (tree_size, root, note, verifier, signed_at) values ($1, $2, $3, $4, $5)
on conflict do nothing;

-- name: checkpoints_upto
select tree_size, root, note, verifier, signed_at from checkpoints
where tree_size <= $1 order by tree_size, signed_at;

-- name: export_events
-- What an export writes: the hashed bytes themselves, and the leaf hash stored when they were appended.
select position, canonical, leaf_hash from events where position > $1 and position <= $2 order by position;

-- name: recorded_at
select recorded_at from events where position = $1;

-- name: leaf_hashes_at
select p.ord, e.leaf_hash
from unnest($1::bigint[]) with ordinality as p(position, ord)
join events e on e.position = p.position
order by p.ord;

-- name: subtrees_upto
-- The stored subtrees inside the first $1 leaves, for an export: a claim the verifier checks against the
-- signed root before it uses it to find a changed event.
select level, index, hash from merkle_nodes where (index + 1) << level::integer <= $1 order by level, index;

-- name: restricted_upto
-- The restricted text still held (not erased) of the events up to position $1, for an export that
-- includes it.
select position, field, salt, value
from restricted_values
where position <= $1 and value is not null
order by position, field;

-- name: signed_at_size
-- Whether a checkpoint was signed for the tree size $1 (by any key).
select exists (select 1 from checkpoints where tree_size = $1);
