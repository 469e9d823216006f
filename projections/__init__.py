"""Pure folds of the log into read models: `evolve(state, recorded) -> state`, no I/O."""
