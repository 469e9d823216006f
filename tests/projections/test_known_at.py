"""The world as the log stood at a size is the world a replay of that prefix folds."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from events.hierarchy import TownRegistered
from projections.community import known_at
from tests.projections.build import fold
from tests.projections.logs import Log, event_logs


@settings(max_examples=150, deadline=None)
@given(event_logs(), st.data())
def test_the_world_known_at_a_size_is_the_replay_of_the_log_up_to_it(log: Log, data: st.DataObject) -> None:
    """As the commands allow it: a town is registered once (the facts keep its one registration), and a
    community is known from its registration (a fold of records about a community never registered, which
    the random logs hold, is no community: the API answers null for it)."""
    towns = [e.town_id for _, e in log if isinstance(e, TownRegistered)]
    assume(len(towns) == len(set(towns)))
    whole = fold(log)
    size = data.draw(st.integers(0, whole.position + 1))
    replayed = fold([(position, event) for position, event in log if position <= size])
    registered = {c: facts for c, facts in replayed.communities.items() if facts.registered_on is not None}
    cut = known_at(whole, size)
    assert dict(replayed.towns) == dict(cut.towns)
    assert replayed.standards == cut.standards
    known = {c for c, facts in cut.communities.items() if facts.registered_on is not None}
    assert sorted(registered) == sorted(known)
    if size < whole.position:  # cut: only the communities registered by then are listed at all
        assert len(registered) == len(cut.communities)
    for community_id, facts in registered.items():
        assert facts == cut.communities[community_id], community_id
    assert all(c not in known for c in whole.communities if c not in registered)
