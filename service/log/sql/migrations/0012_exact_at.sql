-- 0012 exact at a size
-- Intent: one definition of which communities' stored status rows are exact as the log stood at a size,
-- for every read "as the log stood" (`knownAt`) to share: a computation's span of knowledge holds the size
-- (a span still open ends where the community was marked pending, if it is). A SQL function of one
-- SELECT, STABLE, so the planner inlines it into each query as if it were written there.
-- Lock cost: creates a function only.

create function status_exact_at(generation_ integer, size_ bigint) returns setof text
language sql stable as $$
    select v.community_id
    from status_versions v
    left join status_pending p on p.generation = v.generation and p.community_id = v.community_id
    where v.generation = generation_ and v.known_from <= size_
      and size_ < coalesce(v.known_to, p.from_position, 9223372036854775807)
$$;

grant execute on function status_exact_at(integer, bigint) to qinglian_app;
