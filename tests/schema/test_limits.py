"""Limits: each refusal is a GraphQL error with a code and a message naming the limit and its value.

Limits act before any resolver runs, so these tests need no database."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import get_introspection_query

from schema.build import SCHEMA, build_schema
from schema.limits import DEFAULT_LIMITS, Limits
from service.read.paging import QueryError, page_size


async def refusal(query: str, variables: dict[str, Any] | None = None) -> tuple[str, str]:
    """The code and message of the limit error among the refusals (a document too deep for this schema
    also asks for fields that do not exist, which graphql reports too)."""
    result = await SCHEMA.execute(query, variables)
    assert result.data is None
    assert result.errors is not None, result
    coded = [e for e in result.errors if (e.extensions or {}).get("code")]
    assert 1 == len(coded), result.errors
    return str((coded[0].extensions or {})["code"]), coded[0].message


async def test_a_document_nested_deeper_than_the_limit_is_refused_as_query_too_deep() -> None:
    inner = "id"
    for _ in range(DEFAULT_LIMITS.max_depth):
        inner = f"spotChecks {{ edges {{ node {{ {inner} }} }} }}"
    code, message = await refusal(f'{{ community(id: "x") {{ {inner} }} }}')
    assert "QUERY_TOO_DEEP" == code
    assert f"depth limit is {DEFAULT_LIMITS.max_depth}" in message


async def test_depth_counts_through_fragments() -> None:
    schema = build_schema(Limits(max_depth=3))
    query = (
        '{ community(id: "x") { ...A } } '
        "fragment A on Community { town { ...B } } "
        "fragment B on Town { coverage { rate } }"
    )
    result = await schema.execute(query)
    assert result.errors is not None
    assert ["QUERY_TOO_DEEP"] == [(e.extensions or {}).get("code") for e in result.errors]
    assert "nested 4 fields deep; the depth limit is 3" in result.errors[0].message


async def test_more_aliases_than_the_limit_are_refused_as_too_many_aliases() -> None:
    fields = " ".join(f"a{i}: standards {{ version }}" for i in range(DEFAULT_LIMITS.max_aliases + 1))
    code, message = await refusal(f"{{ {fields} }}")
    assert "TOO_MANY_ALIASES" == code
    assert f"alias limit is {DEFAULT_LIMITS.max_aliases}" in message


async def test_a_document_of_more_tokens_than_the_limit_is_refused_as_too_many_tokens() -> None:
    fields = " ".join("standards { version }" for _ in range(DEFAULT_LIMITS.max_tokens))
    code, message = await refusal(f"{{ {fields} }}")
    assert "TOO_MANY_TOKENS" == code
    assert f"token limit is {DEFAULT_LIMITS.max_tokens}" in message


async def test_introspection_is_not_held_to_the_depth_limit() -> None:
    result = await SCHEMA.execute(get_introspection_query(descriptions=True))
    assert result.errors is None
    assert result.data is not None
    assert "__schema" in result.data


def test_a_page_larger_than_the_limit_is_refused_as_page_too_large() -> None:
    with pytest.raises(QueryError) as caught:
        page_size(DEFAULT_LIMITS.max_page + 1)
    assert "PAGE_TOO_LARGE" == caught.value.code
    assert str(DEFAULT_LIMITS.max_page) in str(caught.value)


async def test_a_syntax_error_is_reported_not_raised() -> None:
    result = await SCHEMA.execute("{ city { ")
    assert result.errors is not None
    assert "Syntax Error" in result.errors[0].message
