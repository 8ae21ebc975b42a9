"""YAML for scenarios: numbers never become binary floats, dates and timestamps stay text.

PyYAML's safe loader turns ``6.5`` into a float, ``2026-01-15`` into a date, ``012`` into the octal
10 and ``yes`` into True (YAML 1.1). A scenario holds money, so this loader keeps the text of every
scalar the format cares about and lets the scenario models parse it exactly:
- a float-looking scalar becomes the ``Decimal`` of its own text (``6.5`` -> Decimal("6.5"));
- a plain decimal integer becomes an ``int`` (``012`` is 12, not octal); other integer spellings
  (hex, binary, sexagesimal) stay text and are refused where a number is expected;
- dates and timestamps stay text, parsed by the models (so a timestamp without a zone is caught);
- only ``true`` / ``false`` are booleans (YAML 1.2); ``yes``, ``no``, ``on``, ``off`` are text;
- a key repeated in one mapping is an error instead of silently keeping the last value.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

import yaml

_PLAIN_INT = re.compile(r"^[-+]?[0-9][0-9_]*$")
_PLAIN_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


class DuplicateKeyError(yaml.MarkedYAMLError):
    pass


class ScenarioLoader(yaml.SafeLoader):
    """SafeLoader with exact numbers, text dates and YAML 1.2 booleans."""


# Own copy of the resolver table, without YAML 1.1's yes/no/on/off booleans.
ScenarioLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ScenarioLoader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("tTfF"))


def _float(loader: ScenarioLoader, node: yaml.ScalarNode):
    text = loader.construct_scalar(node)
    if _PLAIN_FLOAT.match(text):
        try:
            return Decimal(text.replace("_", ""))
        except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
            pass
    return text  # .inf, .nan, 1:30.5: not a decimal; the models say so where a number is due


def _int(loader: ScenarioLoader, node: yaml.ScalarNode):
    text = loader.construct_scalar(node)
    if _PLAIN_INT.match(text):
        return int(text.replace("_", ""))
    return text


def _text(loader: ScenarioLoader, node: yaml.ScalarNode):
    return loader.construct_scalar(node)


def _mapping(loader: ScenarioLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            continue  # the base constructor reports unhashable keys
        if key in seen:
            raise DuplicateKeyError("while reading a mapping", node.start_mark,
                                    f"found the key {key!r} twice", key_node.start_mark)
        seen[key] = True
    return loader.construct_mapping(node, deep=deep)


def _map(loader: ScenarioLoader, node: yaml.MappingNode):
    data: dict = {}
    yield data
    data.update(_mapping(loader, node))


ScenarioLoader.add_constructor("tag:yaml.org,2002:float", _float)
ScenarioLoader.add_constructor("tag:yaml.org,2002:int", _int)
ScenarioLoader.add_constructor("tag:yaml.org,2002:timestamp", _text)
ScenarioLoader.add_constructor("tag:yaml.org,2002:map", _map)


def load_yaml(text: str):
    return yaml.load(text, Loader=ScenarioLoader)  # noqa: S506 - a SafeLoader subclass
