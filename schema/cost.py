"""What a document may cost at worst, counted before it runs: each field's cost, times the pages above it.

The count is over the operation that will run, with the request's variables, so `first: $n` counts as the
`n` sent (a page size the limits would refuse counts as the limit, and the refusal follows anyway):

- a field of a scalar or enum type costs nothing (its object was fetched already), unless `FIELD_COSTS`
  prices it for its size: an event's payload, canonical bytes and metadata may each be many kilobytes, so
  thirty aliases of a page of them cannot ask for hundreds of megabytes within the budget;
- a field of an object type costs 1 plus its selections, unless `FIELD_COSTS` names a dearer price
  (`status` is an evaluation, `coverage` a query over every community's segments …);
- a field with a `first` argument is a page: its selections count once per item, `first` times (the
  default page size when it is left out), and the `edges` list of the page's connection once;
- any other list of objects counts each item (1 and its selections) `LIST_BOUNDS` times: a bound on how
  many items such a list has in this programme (a city of 19 towns counts as `towns` bound, 30);
- fragments count where they are spread, and every type condition of a union or interface counts, as
  if all held at once: the worst case. Introspection (`__schema`, `__type`) costs nothing, so tools that
  read the schema are never refused.

The bound exists so that no request can ask for more work than the budget before any of it is done: the
budget (`Limits.max_cost`, 10,000) is five times the dashboard's cost (city coverage, every town with its
coverage, 50 communities with status, unmet criteria and town: 1,888) and half of a page of 100
communities each with a page of 100 of their records (20,301).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
)

from service.read.paging import DEFAULT_PAGE, MAX_PAGE

# Fields dearer than one object: what computing them costs, in the same unit.
FIELD_COSTS: dict[tuple[str, str], int] = {
    ("Community", "status"): 10,
    ("City", "coverage"): 5,
    ("Town", "coverage"): 5,
    ("City", "disclosureRate"): 10,
    ("Town", "disclosureRate"): 10,
    ("City", "coverageSeries"): 20,
    ("Town", "coverageSeries"): 20,
    ("City", "disclosureRateSeries"): 20,
    ("Town", "disclosureRateSeries"): 20,
    ("Query", "checkpoint"): 5,
    ("Query", "inclusionProof"): 10,
    ("Query", "consistencyProof"): 10,
    ("Event", "restricted"): 2,
    # Scalars priced for what they may weigh (up to tens of kilobytes each).
    ("Event", "payload"): 20,
    ("Event", "canonical"): 20,
    ("Event", "metadata"): 5,
}
# How many items a list without `first` holds at most, as this programme has them.
LIST_BOUNDS: dict[tuple[str, str], int] = {
    ("Query", "towns"): 30,
    ("City", "towns"): 30,
    ("Query", "standards"): 10,
    ("Standard", "criteria"): 20,
    ("Query", "enumLabels"): 20,
    ("EnumLabels", "values"): 20,
    ("Status", "unmet"): 20,
    ("StatusSummary", "unmet"): 20,
    # Relays and webhook endpoints an operator runs: a handful each.
    ("Deliveries", "relays"): 10,
    ("Deliveries", "webhooks"): 100,
    ("CommunityStatusChange", "newlyUnmet"): 20,
    ("Disclosure", "corrections"): 10,
    ("SpotCheck", "findings"): 20,
    ("Community", "currentRules"): 20,
    # One point per day asked for, at most 1,000 (service/read/series.py); a point is plain numbers.
    ("City", "coverageSeries"): 1000,
    ("Town", "coverageSeries"): 1000,
    ("City", "disclosureRateSeries"): 1000,
    ("Town", "disclosureRateSeries"): 1000,
    # What a mutation answers: the events it wrote (one command, one event) and its field errors.
    ("Recorded", "events"): 1,
    ("ValidationError", "errors"): 20,
    ("Erased", "fields"): 5,
}
# A list not named above (a test keeps every list of objects named, so this is a fallback).
DEFAULT_LIST_BOUND = 10
_COMPOSITE = (GraphQLObjectType, GraphQLInterfaceType, GraphQLUnionType)
# A mutation writes: it costs as much as a page of records read.
MUTATION_COST = 20


def document_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any] | None,
) -> int:
    """The worst-case cost of running `operation` with `variables` (see the module's rules)."""
    root = {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation.operation]
    if root is None:
        return 0
    defaults = {
        d.variable.name.value: d.default_value
        for d in operation.variable_definitions or ()
        if d.default_value is not None
    }
    counter = _Counter(schema, fragments, variables or {}, defaults)
    total = counter.selections(operation.selection_set, root, frozenset())
    if operation.operation is OperationType.MUTATION:
        total += MUTATION_COST * len(operation.selection_set.selections)
    return total


class _Counter:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        defaults: Mapping[str, ValueNode],
    ) -> None:
        self.types = schema.type_map
        self.fragments = fragments
        self.variables = variables
        self.defaults = defaults

    def selections(self, selection_set: SelectionSetNode | None, parent: Any, seen: frozenset[str]) -> int:
        if selection_set is None or not isinstance(parent, _COMPOSITE):
            return 0
        total = 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                total += self.field(node, parent, seen)
            elif isinstance(node, InlineFragmentNode):
                total += self.selections(node.selection_set, self._condition(node, parent), seen)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = self.fragments.get(name)
                # A cycle or an unknown fragment is graphql's own rules' to report; here it adds nothing.
                if fragment is not None and name not in seen:
                    target = self._condition(fragment, parent)
                    total += self.selections(fragment.selection_set, target, seen | {name})
        return total

    def field(self, node: FieldNode, parent: Any, seen: frozenset[str]) -> int:
        name = node.name.value
        if name.startswith("__") or isinstance(parent, GraphQLUnionType):
            return 0
        definition = parent.fields.get(name)
        if definition is None:
            return 0  # an unknown field is refused by validation, before this counts
        named = get_named_type(definition.type)
        if not isinstance(named, _COMPOSITE):
            return FIELD_COSTS.get((parent.name, name), 0)
        own = FIELD_COSTS.get((parent.name, name), 1)
        inner = self.selections(node.selection_set, named, seen)
        if "first" in definition.args:
            return own + self._page(node) * inner
        if _is_list(definition.type) and not parent.name.endswith("Connection"):
            # Each item is an object (1) with its own selections.
            return own + LIST_BOUNDS.get((parent.name, name), DEFAULT_LIST_BOUND) * (1 + inner)
        return own + inner

    def _page(self, node: FieldNode) -> int:
        """The page size a field is asked for: its `first`, literal or variable, or the default."""
        argument = next((a for a in node.arguments or () if a.name.value == "first"), None)
        if argument is None:
            return DEFAULT_PAGE
        value: Any = argument.value
        if isinstance(value, VariableNode):
            variable = value.name.value
            value = self.variables[variable] if variable in self.variables else self.defaults.get(variable)
        if isinstance(value, IntValueNode):
            value = int(value.value)
        if value is None:
            return DEFAULT_PAGE
        if not isinstance(value, int) or isinstance(value, bool):
            return MAX_PAGE  # not a number: refused when it runs; until then, the worst case
        return max(0, min(value, MAX_PAGE))

    def _condition(self, node: InlineFragmentNode | FragmentDefinitionNode, parent: Any) -> Any:
        """The type a fragment's selections are on: its type condition's (an unknown name counts nothing)."""
        if node.type_condition is None:
            return parent
        return self.types.get(node.type_condition.name.value)


def _is_list(type_: GraphQLOutputType) -> bool:
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    return isinstance(inner, GraphQLList)
