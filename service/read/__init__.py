"""The read side: the projector and its stored facts, the read model, what the API and reports show of them,
paging and the trail. It rests on the log."""
