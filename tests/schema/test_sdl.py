"""The committed SDL matches the code, and every part of the API is described."""

from __future__ import annotations

from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLObjectType, GraphQLUnionType

from schema.build import SCHEMA
from schema.export import SDL_PATH, main, sdl


def test_the_committed_schema_graphql_is_what_the_code_builds() -> None:
    # On failure: run `python -m schema.export`, and review the API change in the diff.
    assert SDL_PATH.read_text(encoding="utf-8") == sdl()


def test_export_check_passes_on_the_committed_file() -> None:
    assert 0 == main(["--check"])


def _ours() -> list[object]:
    return [t for name, t in SCHEMA._schema.type_map.items() if not name.startswith("__")]


def test_every_type_field_and_argument_has_a_description() -> None:
    missing = []
    for kind in _ours():
        name = getattr(kind, "name", "?")
        if not getattr(kind, "description", None):
            missing.append(name)
        if isinstance(kind, GraphQLObjectType | GraphQLInputObjectType):
            for field_name, field in kind.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not arg.description and arg_name not in ("info",):
                        missing.append(f"{name}.{field_name}({arg_name})")
    assert [] == missing


def test_every_enum_value_is_described_and_the_domain_ones_carry_a_chinese_term() -> None:
    enums = [t for t in _ours() if isinstance(t, GraphQLEnumType)]
    assert enums
    for kind in enums:
        for value_name, value in kind.values.items():
            assert value.description, f"{kind.name}.{value_name}"
            assert any("\u4e00" <= ch <= "\u9fff" for ch in value.description), f"{kind.name}.{value_name}"


def test_mutation_results_are_unions_of_success_and_typed_failures() -> None:
    union = SCHEMA._schema.type_map["CommandResult"]
    assert isinstance(union, GraphQLUnionType)
    assert {"Recorded", "VersionConflict", "ValidationError", "NotAuthorized"} == {
        t.name for t in union.types
    }
