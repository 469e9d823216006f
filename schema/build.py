"""The executable schema: Query, Mutation and Subscription, the limits, the caches, error masking, one log
line per operation, and the execution time limit."""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import AsyncGenerator, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import strawberry
import structlog
from graphql import FieldNode, GraphQLError, Visitor, get_operation_ast, parse, visit
from graphql import OperationType as OperationKind
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import MaskErrors, ParserCache, SchemaExtension, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from schema.context import Context
from schema.limits import DEFAULT_LIMITS, Limits, LimitsExtension, explain_token_limit, limit_error
from schema.mutations import Mutation
from schema.queries import Query
from schema.scalars import SCALARS
from schema.subscriptions import Subscription
from service.log.outage import OUTAGE, unavailable
from service.read.paging import QueryError

if TYPE_CHECKING:
    from strawberry.schema.schema import StreamResult

log = structlog.get_logger("qinglian.graphql")
# Distinct documents whose parse and validation are kept: repeated dashboards skip both.
CACHE_SIZE = 256


@dataclass(slots=True)
class _Operation:
    name: str | None = None
    type: str | None = None


_current: contextvars.ContextVar[_Operation | None] = contextvars.ContextVar(
    "qinglian_operation", default=None
)


class _Observe(SchemaExtension):
    """Notes the operation's name and type for the log line, once the document is parsed."""

    def on_validate(self) -> Iterator[None]:
        noted = _current.get()
        if noted is not None:
            noted.name = self.execution_context.operation_name
            try:
                noted.type = self.execution_context.operation_type.value
            except RuntimeError:
                noted.type = None  # an unknown operation name: graphql reports it
        yield


def expected(error: GraphQLError) -> bool:
    """Whether an error is the client's to see as is: anything but an exception escaping a resolver."""
    original = error.original_error
    return error.path is None or original is None or isinstance(original, GraphQLError | QueryError)


UNAVAILABLE_MESSAGE = "The database is unavailable; try again shortly."


class _Masked(MaskErrors):
    """Hides what escaped a resolver, but says so when the database could not be reached: that is the
    client's to know (it may retry), and its code is DATABASE_UNAVAILABLE."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        if unavailable(error.original_error):
            return GraphQLError(
                UNAVAILABLE_MESSAGE,
                nodes=error.nodes,
                path=error.path,
                extensions={"code": "DATABASE_UNAVAILABLE"},
            )
        return super().anonymise_error(error)

    def _process_result(self, result: object) -> None:
        # Most results have no errors; strawberry's check is an isinstance of a runtime protocol, which
        # costs tens of microseconds — on every message of every subscriber.
        if getattr(result, "errors", None):
            super()._process_result(result)


class QinglianSchema(strawberry.Schema):
    limits: Limits

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Logged once here, with the traceback; MaskErrors then hides the text from the client. A database
        # that cannot be reached is not a bug: one line per outage says so (service.log.outage).
        for error in errors:
            if unavailable(error.original_error):
                OUTAGE.failed(error.original_error)  # type: ignore[arg-type]
            elif not expected(error):
                original = error.original_error
                log.error(
                    "unexpected error in a resolver",
                    path=error.path,
                    exc_info=(type(original), original, original.__traceback__) if original else None,
                )

    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> StreamResult:
        """An operation over a WebSocket, with a context of its own: the connection's context lasts as long
        as the connection, and its loaders would otherwise answer every later operation from the snapshot
        the first one read. A subscription streams (no time limit: it lasts until the client completes it);
        a query or a mutation is one result, run as `execute` runs it over HTTP (time limit, introspection
        gate, log line)."""
        if isinstance(context_value, Context):
            context_value = context_value.for_operation()
        if _subscribes(query, operation_name):
            return self._subscription(
                await super().stream(
                    query,
                    variable_values,
                    context_value,
                    root_value,
                    operation_name,
                    operation_extensions,
                    allowed_operation_types,
                ),
                operation_name,
                context_value,
            )
        try:
            result = await self.execute(
                query,
                variable_values,
                context_value,
                root_value,
                operation_name,
                allowed_operation_types,
                operation_extensions,
            )
        except (MissingQueryError, CannotGetOperationTypeError, InvalidOperationTypeError) as exc:
            # What the HTTP view answers as a bad request: refused before execution, as strawberry's own
            # stream refuses it.
            result = PreExecutionError(data=None, errors=[GraphQLError(str(exc), original_error=exc)])
        return _single(result)

    async def _subscription(
        self, results: StreamResult, operation_name: str | None, context: object
    ) -> AsyncGenerator[Any, None]:
        """A subscription's results, with a log line when it starts and one when it ends."""
        request_id = context.request_id if isinstance(context, Context) else None
        started = time.perf_counter()
        log.info("subscription started", operation_name=operation_name, request_id=request_id)
        sent = 0
        try:
            async for result in results:
                yield result
                sent += 1
        finally:
            if isinstance(context, Context):
                context.loaders.close()
            log.info(
                "subscription ended",
                operation_name=operation_name,
                request_id=request_id,
                messages=sent,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        noted = _Operation(name=operation_name)
        token = _current.set(noted)
        started = time.perf_counter()
        outcome = "failed"
        try:
            if (
                isinstance(context_value, Context)
                and not context_value.may_introspect
                and _introspects(query)
            ):
                outcome = "rejected"
                message = "Introspection is for signed-in callers here: send Authorization: Bearer <token>."
                return ExecutionResult(data=None, errors=[limit_error("INTROSPECTION_DISABLED", message)])
            async with asyncio.timeout(self.limits.timeout_seconds):
                result = await super().execute(
                    query,
                    variable_values,
                    context_value,
                    root_value,
                    operation_name,
                    allowed_operation_types,
                    operation_extensions,
                )
            if result.errors:
                result.errors = [explain_token_limit(e, self.limits) for e in result.errors]
            elif OUTAGE.ongoing:
                OUTAGE.answered()
            outcome = "ok" if not result.errors else ("rejected" if result.data is None else "errors")
            return result
        except TimeoutError:
            outcome = "timeout"
            limit = self.limits.timeout_seconds
            message = f"The operation ran longer than the time limit of {limit:g} s and was stopped."
            return ExecutionResult(data=None, errors=[limit_error("TIMEOUT", message)])
        except Exception:
            # Refused before execution (no query, unknown operation, a mutation over GET): the view says why.
            outcome = "rejected"
            raise
        finally:
            _current.reset(token)
            if isinstance(context_value, Context):
                context_value.loaders.close()
            request_id = context_value.request_id if isinstance(context_value, Context) else None
            log.info(
                "graphql operation",
                operation_name=noted.name,
                operation_type=noted.type,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                outcome=outcome,
                request_id=request_id,
            )


class _RendersOnce(StrawberryGraphQLCoreExecutionContext):
    """Runs a subscription's message once for every subscriber that would be sent the same answer.

    A message's root value may carry a memo shared by all the process's subscribers of that event
    (`EventDelivery.memo`). Its answer depends only on the document, its variables, and what the caller
    may see (the fields of an event take no arguments and read nothing else of the caller), so it is
    kept under those and given as is to the next subscriber that asks the same: with a hundred
    subscribers to one document, the event is rendered once instead of a hundred times. An answer with
    errors is not kept."""

    def execute_operation(self, serially: bool | None = None) -> Any:
        memo = getattr(self.root_value, "memo", None)
        context = self.context_value
        if not isinstance(memo, dict) or not isinstance(context, Context):
            return super().execute_operation(serially)
        key = (
            id(self.operation),
            repr(sorted(self.variable_values.coerced.items())),
            context.principal.view(),
            context.lang,
        )
        found = memo.get(key)
        # The document itself is kept beside its answer, so a key whose id was reused never matches.
        if found is not None and found[0] is self.operation:
            return found[1]
        result = super().execute_operation(serially)
        operation = self.operation
        if self.is_awaitable(result):

            async def kept() -> Any:
                done = await result
                if not done.errors:
                    memo[key] = (operation, done)
                return done

            return kept()
        if not getattr(result, "errors", None):
            memo[key] = (operation, result)
        return result


async def _single(result: ExecutionResult) -> AsyncGenerator[ExecutionResult, None]:
    yield result


def build_schema(limits: Limits = DEFAULT_LIMITS) -> QinglianSchema:
    schema = QinglianSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(scalar_map=SCALARS),
        execution_context_class=_RendersOnce,
        extensions=[
            lambda: LimitsExtension(limits),
            lambda: ParserCache(maxsize=CACHE_SIZE),
            lambda: ValidationCache(maxsize=CACHE_SIZE),
            _Observe,
            lambda: _Masked(should_mask_error=lambda e: not expected(e)),
        ],
    )
    schema.limits = limits
    return schema


SCHEMA = build_schema()


def _subscribes(query: str | None, operation_name: str | None) -> bool:
    """Whether the operation a document names (or its only one) is a subscription. A document that does
    not parse, or names no operation it has, is not: `execute` refuses it with its reason."""
    if not query or "subscription" not in query:
        return False
    try:
        document = parse(query)
    except GraphQLError:
        return False
    operation = get_operation_ast(document, operation_name)
    return operation is not None and operation.operation is OperationKind.SUBSCRIPTION


def _introspects(query: str | None) -> bool:
    """Whether a document asks for __schema or __type (__typename is not introspection of the schema)."""
    if not query or ("__schema" not in query and "__type" not in query.replace("__typename", "")):
        return False
    try:
        document = parse(query)
    except GraphQLError:
        return False  # the executor refuses it with its own message
    found = False

    class Finder(Visitor):
        def enter_field(self, node: FieldNode, *_: object) -> None:
            nonlocal found
            found = found or node.name.value in ("__schema", "__type")

    visit(document, Finder())
    return found
