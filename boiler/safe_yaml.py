"""Read a YAML file an installer wrote, with bounds: nothing it contains can crash or hang the reader.

Before parsing: the file's size is bounded and it must be UTF-8 text (a leading BOM is allowed).
While parsing: nesting depth is bounded, an alias cannot expand the document past a node budget
(a "billion laughs" file), a recursive alias is refused, and a key repeated in one mapping is an
error (YAML would silently keep the last one). Numbers follow YAML 1.2, as people write them:
`1e5` is a number, `010` is ten (not octal eight) and `22:00` is text (not the sexagesimal 1320).
Every problem is a `YamlInputError` whose message names the file and, where the parser knows it,
the line and column.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

#: Largest config file read (bytes); a plant config is a few kilobytes.
MAX_BYTES = 1 << 20
#: Deepest nesting of mappings and lists; the config's own schema needs about 6.
MAX_DEPTH = 64
#: Nodes of the document once every alias is expanded; a config has a few hundred.
MAX_NODES = 100_000

_MERGE_TAG = "tag:yaml.org,2002:merge"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
#: YAML 1.2 core schema numbers (underscores allowed as PyYAML does).
_INT = re.compile(r"^(?:[-+]?[0-9][0-9_]*|0x[0-9a-fA-F_]+|0o[0-7_]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9][0-9_]*|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


class YamlInputError(ValueError):
    """A file that is not a YAML document we accept; the message is meant for the installer."""


def read_utf8(path: Path, max_bytes: int = MAX_BYTES) -> str:
    """The file's text; YamlInputError if unreadable, larger than `max_bytes` or not UTF-8."""
    try:
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise YamlInputError(f"{path}: cannot read the file: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:
        raise YamlInputError(f"{path}: larger than {max_bytes:,} bytes; a config file is a few kilobytes")
    return decode_utf8(data, str(path))


def decode_utf8(data: bytes, source: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise YamlInputError(
            f"{source}: not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line}, column {column} "
            "(save the file as UTF-8)"
        ) from None
    return text.removeprefix("\ufeff")


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with a depth bound, an expansion bound and duplicate keys refused."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:  # type: ignore[override]
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", self.peek_event().start_mark)
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._depth -= 1

    def get_single_node(self) -> Node | None:  # type: ignore[override]
        node = super().get_single_node()
        if node is not None:
            _expanded_size(node, {}, set())
        return node  # type: ignore[no-any-return]

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:  # type: ignore[override]
        seen: dict[Any, Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # unhashable: the base constructor reports it
            if first is not None:
                raise ConstructorError(
                    "while reading a mapping", node.start_mark,
                    f"duplicate key {key!r} (first at line {first.start_mark.line + 1}); give each key once",
                    key_node.start_mark,
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


def _construct_int(loader: yaml.SafeLoader, node: ScalarNode) -> int:
    text = str(loader.construct_scalar(node)).replace("_", "")
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    if digits.startswith("0x"):
        return sign * int(digits[2:], 16)
    if digits.startswith("0o"):
        return sign * int(digits[2:], 8)
    return sign * int(digits, 10)


def _yaml_12_numbers() -> None:
    resolvers: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}
    for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items():
        resolvers[first] = [(tag, rx) for tag, rx in entries if tag not in (_INT_TAG, _FLOAT_TAG)]
    for first in "0123456789-+.":
        number = [(_INT_TAG, _INT)] if first != "." else []
        resolvers[first] = [*number, (_FLOAT_TAG, _FLOAT), *resolvers.get(first, [])]
    _BoundedLoader.yaml_implicit_resolvers = resolvers
    _BoundedLoader.add_constructor(_INT_TAG, _construct_int)


_yaml_12_numbers()


def _expanded_size(node: Node, sizes: dict[int, int], active: set[int]) -> int:
    """Nodes under `node` with aliases expanded; ComposerError past MAX_NODES or on a cycle."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in active:
        raise ComposerError(None, None, "an alias refers to a node that contains it", node.start_mark)
    if isinstance(node, ScalarNode):
        return 1
    active.add(key)
    children: list[Node] = []
    if isinstance(node, SequenceNode):
        children = list(node.value)
    elif isinstance(node, MappingNode):
        children = [n for pair in node.value for n in pair]
    total = 1
    for child in children:
        total += _expanded_size(child, sizes, active)
        if total > MAX_NODES:
            raise ComposerError(
                None, None, f"expands to more than {MAX_NODES:,} values (aliases repeat too much)", node.start_mark
            )
    active.discard(key)
    sizes[key] = total
    return total


def parse_yaml(text: str, source: str) -> Any:
    """The single YAML document in `text`; YamlInputError naming `source`, line and column."""
    try:
        return yaml.load(text, Loader=_BoundedLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        if context and getattr(exc, "problem", None):
            problem = f"{context}, {problem}"
        raise YamlInputError(f"{source}: not valid YAML{where}: {problem}") from None
    except (ValueError, OverflowError, RecursionError) as exc:
        # PyYAML's own constructors: a date like 2025-02-30, an integer of thousands of digits.
        raise YamlInputError(f"{source}: not valid YAML: {exc}") from None


def load_yaml_file(path: Path, max_bytes: int = MAX_BYTES) -> Any:
    return parse_yaml(read_utf8(path, max_bytes), str(path))
