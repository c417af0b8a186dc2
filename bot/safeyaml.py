"""YAML with bounds: a size limit and a limit on nodes *after* alias expansion.

PyYAML's ``safe_load`` shares aliased nodes, so a 519-byte "billion laughs" file loads
quickly -- and then explodes in whatever walks it (validation, key diffs, JSON, messages).
:func:`load` composes the node graph, counts nodes as a walk would meet them (every alias
counted again) and refuses past ``max_nodes`` with the line where the limit was crossed.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_BYTES = 1 << 20       # a config file; synced config files get the same
MAX_NODES = 100_000       # nodes after alias expansion (a real config has a few hundred)


class YAMLLimitError(yaml.YAMLError):
    """The document is over a limit; ``line`` (1-based) and ``problem`` say where and why."""

    def __init__(self, problem: str, line: int | None) -> None:
        super().__init__(problem)
        self.problem, self.line = problem, line
        self.problem_mark = yaml.Mark("", 0, (line or 1) - 1, 0, None, None)

    def __str__(self) -> str:
        return self.problem


def compose(text: str, max_bytes: int = MAX_BYTES, max_nodes: int = MAX_NODES
            ) -> yaml.Node | None:
    """The composed document (None when empty), refused over ``max_bytes`` or when it
    expands to more than ``max_nodes`` nodes."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise YAMLLimitError(f"file is {size:,} bytes; the limit is {max_bytes:,}", 1)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    if node is not None:
        _count(node, max_nodes)
    return node


def _count(root: yaml.Node, limit: int) -> None:
    """Walk as a consumer would; the line reported is the top-level entry being expanded
    when the limit is crossed (an alias has no node of its own to point at)."""
    stack: list[tuple[yaml.Node, int | None]] = [(root, None)]
    seen = 0
    while stack:
        node, line = stack.pop()
        seen += 1
        if seen > limit:
            raise YAMLLimitError(f"expands to more than {limit:,} nodes (aliases repeat "
                                 f"their anchor's nodes); refused",
                                 line or node.start_mark.line + 1)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [n for kv in node.value for n in kv]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        stack.extend((c, line or (c.start_mark.line + 1 if node is root else None))
                     for c in children)


def construct(node: yaml.Node | None) -> Any:
    """Python data from a node :func:`compose` accepted (safe types only)."""
    if node is None:
        return None
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node)
    finally:
        loader.dispose()


def load(text: str, max_bytes: int = MAX_BYTES, max_nodes: int = MAX_NODES) -> Any:
    """``yaml.safe_load`` within the limits (raises :class:`YAMLLimitError`)."""
    return construct(compose(text, max_bytes, max_nodes))
