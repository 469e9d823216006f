"""Words in Chinese and English for a client to show: texts in both languages, the `lang` argument and its
default (the request's Accept-Language), and every enumeration's values with their labels.

The words themselves are the core's (`projections.wording`); this module only serves them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Annotated

import strawberry

from events.standard import Text
from projections.wording import Lang, text
from schema.context import Context

Info = strawberry.Info[Context, None]
LangArg = Annotated[
    Lang | None,
    strawberry.argument(
        description="The language: ZH or EN. Left out, the request's: Chinese if its Accept-Language header "
        "prefers Chinese to English, English otherwise."
    ),
]


def lang_of(info: Info, lang: Lang | None) -> Lang:
    """The language asked for, or the request's."""
    return lang if lang is not None else info.context.lang


@strawberry.type(description="A text in Chinese and in English.")
class LocalizedText:
    value: strawberry.Private[Text]

    @strawberry.field(description="In Chinese.")
    def zh(self) -> str:
        return self.value.zh

    @strawberry.field(description="In English.")
    def en(self) -> str:
        return self.value.en

    @strawberry.field(description="In the language asked for (by default the request's).", name="text")
    def in_lang(self, info: Info, lang: LangArg = None) -> str:
        return text(self.value, lang_of(info, lang))


@strawberry.type(description="One value of an enumeration and its label in each language.")
class EnumValueLabel:
    value: str = strawberry.field(description="The value as the schema spells it, e.g. FINANCE.")
    label_text: strawberry.Private[Text]

    @strawberry.field(description="Its label in Chinese, e.g. 财务公开.")
    def zh(self) -> str:
        return self.label_text.zh

    @strawberry.field(description="Its label in English, e.g. Finance.")
    def en(self) -> str:
        return self.label_text.en

    @strawberry.field(description="Its label in the language asked for (by default the request's).")
    def label(self, info: Info, lang: LangArg = None) -> str:
        return text(self.label_text, lang_of(info, lang))


@strawberry.type(description="An enumeration of the schema and its values' labels, in the schema's order.")
class EnumLabels:
    name: str = strawberry.field(description="The enumeration's name in the schema, e.g. DisclosureCategory.")
    values: list[EnumValueLabel] = strawberry.field(description="Its values, each with its labels.")


def enum_labels(tables: Iterable[tuple[type[enum.Enum], Mapping[str, Text]]]) -> list[EnumLabels]:
    """Each enumeration (a GraphQL enum) with its values' labels, by value, sorted by name."""
    found: list[EnumLabels] = []
    for cls, labels in tables:
        definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
        values = [EnumValueLabel(value=v.name, label_text=labels[v.value]) for v in definition.values]
        found.append(EnumLabels(name=definition.name, values=values))
    return sorted(found, key=lambda e: e.name)
