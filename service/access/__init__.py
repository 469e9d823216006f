"""Access: built-in tokens (issued, listed, revoked as events) and the authenticator that turns a presented
credential into a principal. The decision of what a principal may do is pure, in projections/access.py.
It rests on the log."""
