"""Limits on what one request may ask: document tokens, depth, aliases, worst-case cost, page size, time.

Each refusal is a GraphQL error whose `extensions.code` says which limit (TOO_MANY_TOKENS, QUERY_TOO_DEEP,
TOO_MANY_ALIASES, QUERY_TOO_COMPLEX, PAGE_TOO_LARGE, TIMEOUT; BODY_TOO_LARGE and RESPONSE_TOO_LARGE are
the HTTP layer's) and whose message names the limit and its value. Validation rules are module-level
classes, so the validation cache keys on them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    get_operation_ast,
)
from strawberry.extensions import SchemaExtension

from schema.cost import document_cost
from service.read.paging import MAX_PAGE


@dataclass(frozen=True, slots=True)
class Limits:
    max_tokens: int = 2000
    max_depth: int = 10
    max_aliases: int = 30
    max_page: int = MAX_PAGE
    # The worst-case cost a document may have (schema/cost.py), counted before it runs.
    max_cost: int = 10_000
    timeout_seconds: float = 10.0
    max_body_bytes: int = 1024 * 1024
    # The largest answer sent: fifty times the dashboard's, ten times a page of 100 events in full.
    max_response_bytes: int = 8 * 1024 * 1024


DEFAULT_LIMITS = Limits()
# graphql-core's own message when `max_tokens` stops the parser.
_TOKENS_ABORTED = "tokens. Parsing aborted."


def limit_error(code: str, message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


def _depth(
    selections: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    seen: frozenset[str],
) -> int:
    """The deepest field nesting below `selections`; introspection (`__schema`, `__type`) is not counted,
    so tools that read the schema are never refused."""
    if selections is None:
        return 0
    deepest = 0
    for node in selections.selections:
        if isinstance(node, FieldNode):
            if node.name.value.startswith("__"):
                continue
            deepest = max(deepest, 1 + _depth(node.selection_set, fragments, seen))
        elif isinstance(node, InlineFragmentNode):
            deepest = max(deepest, _depth(node.selection_set, fragments, seen))
        elif isinstance(node, FragmentSpreadNode):
            name = node.name.value
            fragment = fragments.get(name)
            # A cycle or an unknown fragment is reported by graphql's own rules; here it adds nothing.
            if fragment is not None and name not in seen:
                deepest = max(deepest, _depth(fragment.selection_set, fragments, seen | {name}))
    return deepest


def _aliases(selections: SelectionSetNode | None) -> int:
    """Aliases written in the document (each fragment counted once, where it is defined)."""
    if selections is None:
        return 0
    count = 0
    for node in selections.selections:
        if isinstance(node, FieldNode):
            count += (node.alias is not None) + _aliases(node.selection_set)
        elif isinstance(node, InlineFragmentNode):
            count += _aliases(node.selection_set)
    return count


def _rules(limits: Limits) -> tuple[type[ValidationRule], ...]:
    class DepthLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            document = context.document
            fragments = {
                d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
            }
            for definition in document.definitions:
                if isinstance(definition, OperationDefinitionNode):
                    depth = _depth(definition.selection_set, fragments, frozenset())
                    if depth > limits.max_depth:
                        name = definition.name.value if definition.name else "anonymous"
                        context.report_error(
                            limit_error(
                                "QUERY_TOO_DEEP",
                                f"Operation {name} is nested {depth} fields deep; the depth limit is "
                                f"{limits.max_depth}.",
                            )
                        )

    class AliasLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            count = sum(
                _aliases(d.selection_set)
                for d in context.document.definitions
                if isinstance(d, OperationDefinitionNode | FragmentDefinitionNode)
            )
            if count > limits.max_aliases:
                context.report_error(
                    limit_error(
                        "TOO_MANY_ALIASES",
                        f"The document uses {count} aliases; the alias limit is {limits.max_aliases}.",
                    )
                )

    return (DepthLimit, AliasLimit)


class LimitsExtension(SchemaExtension):
    """Sets the token limit on the parser and adds the depth and alias rules to validation."""

    # One pair of rule classes per Limits value: the validation cache keys on the rule classes.
    _cache: dict[Limits, tuple[type[ValidationRule], ...]] = {}  # noqa: RUF012 - a process-wide cache

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        if limits not in self._cache:
            self._cache[limits] = _rules(limits)
        self.rules = self._cache[limits]

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self.limits.max_tokens
        context.validation_rules = (*context.validation_rules, *self.rules)
        yield

    def on_execute(self) -> Iterator[None]:
        # After validation (so the document is known to be well formed) and before any resolver: a result
        # set here is what strawberry returns instead of executing.
        context = self.execution_context
        document = context.graphql_document
        operation = get_operation_ast(document, context.operation_name) if document else None
        if document is not None and operation is not None and context.result is None:
            fragments = {
                d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
            }
            cost = document_cost(context.schema._schema, operation, fragments, context.variables)
            if cost > self.limits.max_cost:
                error = GraphQLError(
                    f"The operation could cost {cost} at worst; the cost limit is {self.limits.max_cost}. "
                    "Ask for smaller pages or fewer nested lists.",
                    extensions={"code": "QUERY_TOO_COMPLEX", "cost": cost, "limit": self.limits.max_cost},
                )
                context.result = ExecutionResult(data=None, errors=[error])
        yield


def explain_token_limit(error: GraphQLError, limits: Limits) -> GraphQLError:
    """graphql-core's parser error for `max_tokens`, as a limit error. It is rewritten after the operation:
    with the parser cache it escapes the extensions' hooks."""
    if _TOKENS_ABORTED in error.message and error.path is None:
        return limit_error(
            "TOO_MANY_TOKENS",
            f"The document has more than {limits.max_tokens} tokens; the token limit is {limits.max_tokens}.",
        )
    return error
