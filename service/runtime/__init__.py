"""The running service: settings, logging, the embedded PostgreSQL, the web app and the command line. It may
import every other capability; none imports it."""
