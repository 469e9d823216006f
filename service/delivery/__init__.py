"""Delivery: live events and status changes for subscribers, one reader of the log per process."""
