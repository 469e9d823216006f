"""The worst-case cost of a document, counted before it runs, and QUERY_TOO_COMPLEX beyond the budget.

The count needs the schema only, so these tests need no database: a refused document never reaches a
resolver (which would need one)."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import (
    FragmentDefinitionNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    get_introspection_query,
    get_named_type,
    get_operation_ast,
    parse,
)

from schema.build import SCHEMA, build_schema
from schema.cost import _COMPOSITE, FIELD_COSTS, LIST_BOUNDS, MUTATION_COST, document_cost
from schema.limits import DEFAULT_LIMITS, Limits
from service.read.paging import DEFAULT_PAGE, MAX_PAGE

DASHBOARD = """
query Dashboard {
  city { coverage { communities standardized rate } towns { id name coverage { rate } } }
  communities(first: 50) {
    totalCount
    edges { node { id name town { id name } status { standardized score unmet { criterion since } } } }
  }
}
"""
STATUS = FIELD_COSTS[("Community", "status")]


def cost(document: str, variables: dict[str, Any] | None = None) -> int:
    parsed = parse(document)
    operation = get_operation_ast(parsed)
    assert operation is not None
    fragments = {d.name.value: d for d in parsed.definitions if isinstance(d, FragmentDefinitionNode)}
    return document_cost(SCHEMA._schema, operation, fragments, variables)


def test_scalars_cost_nothing_and_an_object_costs_one() -> None:
    assert 0 == cost("{ __typename }")
    assert 1 == cost("{ city { id } }")
    assert 1 + FIELD_COSTS[("City", "coverage")] == cost("{ city { coverage { rate } } }")


def test_large_scalars_are_priced_for_their_size_and_thirty_aliases_of_them_are_refused() -> None:
    weight = sum(FIELD_COSTS[("Event", f)] for f in ("canonical", "payload", "metadata"))
    page = "events(first: 20) { edges { node { canonical payload metadata } } }"
    # events (1) + 20 * (edges (1) + node (1) + the three scalars)
    assert 1 + 20 * (2 + weight) == cost("{ " + page + " }")
    aliased = "{ " + " ".join(f"a{n}: {page}" for n in range(30)) + " }"
    assert 30 * (1 + 20 * (2 + weight)) == cost(aliased) > DEFAULT_LIMITS.max_cost


def test_a_page_counts_its_items_first_times() -> None:
    # communities (1) + 7 * (edges (1) + node (1) + status)
    assert 1 + 7 * (2 + STATUS) == cost("{ communities(first: 7) { edges { node { status { score } } } } }")


def test_a_page_size_from_a_variable_counts_as_sent_or_as_its_default() -> None:
    document = "query($n: Int = 3) { communities(first: $n) { edges { node { status { score } } } } }"
    assert 1 + 7 * (2 + STATUS) == cost(document, {"n": 7})
    assert 1 + 3 * (2 + STATUS) == cost(document, {})
    assert 1 + DEFAULT_PAGE * (2 + STATUS) == cost("{ communities { edges { node { status { score } } } } }")


@pytest.mark.parametrize("sent", [10**9, "100", None, True])
def test_a_page_size_that_is_not_a_sane_number_counts_as_the_worst_case(sent: object) -> None:
    document = "query($n: Int) { communities(first: $n) { edges { node { id } } } }"
    expected = 1 + (DEFAULT_PAGE if sent is None else MAX_PAGE) * 2
    assert expected == cost(document, {"n": sent})


def test_a_list_without_a_page_counts_its_bound() -> None:
    # standards (1) + each standard (1 + criteria (1 + each criterion (1)))
    criteria = 1 + LIST_BOUNDS[("Standard", "criteria")] * 1
    standards = LIST_BOUNDS[("Query", "standards")]
    assert 1 + standards * (1 + criteria) == cost("{ standards { criteria { id } } }")


def test_fragments_count_where_they_are_spread_and_each_type_condition_counts() -> None:
    once = cost("{ city { coverage { rate } } }")
    spread = "{ city { ...F } a: city { ...F } } fragment F on City { coverage { rate } }"
    assert 2 * once == cost(spread)
    inline = "{ city { ... on City { coverage { rate } } } }"
    assert once == cost(inline)


def test_nested_pages_multiply() -> None:
    document = (
        "{ communities(first: 10) { edges { node { "
        "disclosures(first: 10) { edges { node { period } } } } } } }"
    )
    assert 1 + 10 * (2 + 1 + 10 * 2) == cost(document)


def test_each_mutation_costs_as_a_write() -> None:
    document = (
        'mutation { a: retireCommunity(input: {communityId: "x", retiredOn: "2024-01-01", reason: "r"}, '
        'idempotencyKey: "k") { __typename } }'
    )
    # The field answers a union (1), of whose members nothing is asked; the write costs MUTATION_COST.
    assert MUTATION_COST + 1 == cost(document)


def test_the_dashboard_is_well_within_the_budget() -> None:
    assert cost(DASHBOARD) * 5 < DEFAULT_LIMITS.max_cost


def test_every_list_of_objects_without_a_page_has_a_named_bound() -> None:
    """A list added later must say how long it can be, or the count would guess."""
    unnamed = []
    for type_ in SCHEMA._schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for name, field in type_.fields.items():
            shape = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
            if (
                isinstance(shape, GraphQLList)
                and isinstance(get_named_type(field.type), _COMPOSITE)
                and "first" not in field.args
                and not type_.name.endswith("Connection")
                and (type_.name, name) not in LIST_BOUNDS
            ):
                unnamed.append(f"{type_.name}.{name}")
    assert [] == unnamed


async def test_a_document_over_the_budget_is_refused_before_it_runs_with_its_cost() -> None:
    document = (
        "{ communities(first: 100) { edges { node { id "
        "disclosures(first: 100) { edges { node { period } } } } } } }"
    )
    result = await SCHEMA.execute(document)
    assert result.data is None
    assert result.errors is not None
    [error] = result.errors
    extensions = error.extensions or {}
    assert "QUERY_TOO_COMPLEX" == extensions["code"]
    assert cost(document) == extensions["cost"] > DEFAULT_LIMITS.max_cost
    assert DEFAULT_LIMITS.max_cost == extensions["limit"]
    expected = f"could cost {cost(document)} at worst; the cost limit is {DEFAULT_LIMITS.max_cost}"
    assert expected in error.message


async def test_the_budget_counts_the_variables_sent() -> None:
    schema = build_schema(Limits(max_cost=100))
    document = "query($n: Int!) { communities(first: $n) { edges { node { status { score } } } } }"
    refused = await schema.execute(document, {"n": 50})
    assert refused.errors is not None
    assert "QUERY_TOO_COMPLEX" == (refused.errors[0].extensions or {}).get("code")
    # Under the budget, it runs: without a database the resolver fails, which is not a cost refusal.
    allowed = await schema.execute(document, {"n": 2})
    codes = [(e.extensions or {}).get("code") for e in allowed.errors or []]
    assert "QUERY_TOO_COMPLEX" not in codes


async def test_introspection_costs_nothing() -> None:
    schema = build_schema(Limits(max_cost=1))
    result = await schema.execute(get_introspection_query(descriptions=True))
    assert result.errors is None
