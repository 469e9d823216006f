"""Commands: read what a command concerns, decide with the pure rules, append; who may record what.
It rests on the log and the read side (a mutation waits for the projections)."""
