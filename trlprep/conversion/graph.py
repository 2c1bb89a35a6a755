"""The conversion graph: dataset types as nodes, `trlprep.converters` edges between them.

A route takes the direct edge when there is one, otherwise the path that loses the least:
fewest lossy edges first, then fewest edges (so implicit preference -> unpaired goes
through prompt extraction, as TRL's guide does).
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass

from trlprep.errors import UsageError
from trlprep.registry import TYPES, DatasetType, Format, get_type


def edges() -> dict:
    """Every declared conversion, keyed by (source type, target type)."""
    from trlprep.converters import EDGES

    return EDGES


@dataclass(frozen=True)
class Route:
    """The edges from one type to another, in order."""

    src: DatasetType
    dst: DatasetType
    steps: tuple  # tuple[converters.base.Edge, ...]

    @property
    def lossy(self) -> bool:
        return any(e.lossy for e in self.steps)

    def names(self) -> list[str]:
        return [self.src.name] + [e.dst for e in self.steps]

    def __str__(self) -> str:
        return " -> ".join(self.names())


def _usable(e, guide_only: bool, fmt: Format | None) -> bool:
    return (e.guide or not guide_only) and (fmt is None or fmt in e.formats)


def _neighbours(name: str, guide_only: bool, fmt: Format | None = None) -> list:
    return [e for (s, _), e in edges().items() if s == name and _usable(e, guide_only, fmt)]


def route(
    src: str | DatasetType,
    dst: str | DatasetType,
    *,
    guide_only: bool = False,
    fmt: Format | None = None,
) -> Route:
    """The route from `src` to `dst` (through edges that convert `fmt` data, when given);
    UsageError listing what is reachable when none exists."""
    s, d = get_type(src), get_type(dst)
    if s is d:
        return Route(s, d, ())
    direct = edges().get((s.name, d.name))
    if direct is not None and _usable(direct, guide_only, fmt):
        return Route(s, d, (direct,))
    # Dijkstra on (lossy edges, edges): lossless-first, then shortest
    queue: list[tuple[int, int, int, str, tuple]] = [(0, 0, 0, s.name, ())]
    best: dict[str, tuple[int, int]] = {}
    tie = itertools.count(1)  # keeps heap entries comparable without comparing edges
    while queue:
        lossy, hops, _, node, path = heapq.heappop(queue)
        if node == d.name:
            return Route(s, d, path)
        if node in best and best[node] <= (lossy, hops):
            continue
        best[node] = (lossy, hops)
        for e in _neighbours(node, guide_only, fmt):
            heapq.heappush(queue, (lossy + e.lossy, hops + 1, next(tie), e.dst, path + (e,)))
    reachable = sorted(reachable_from(s, guide_only=guide_only, fmt=fmt))
    where = f" in {fmt} format" if fmt is not None else ""
    hint = (
        f"from {s.name} ({fmt}) you can reach: {', '.join(reachable)}"
        if reachable and fmt is not None
        else f"from {s.name} you can reach: {', '.join(reachable)}"
        if reachable
        else f"{'' if fmt is None else f'{fmt} '}{s.name} converts to nothing (it holds no more "
        "than any other type)"
    )
    if fmt is not None and direct is not None and fmt not in direct.formats:
        hint = (
            f"{s.name} -> {d.name} works on {', '.join(map(str, direct.formats))} data only: "
            f"{fmt} {s.name} has no turn structure to split at; " + hint
        )
    raise UsageError(f"cannot convert {s.name} to {d.name}{where}", hint=hint)


def reachable_from(
    src: str | DatasetType, *, guide_only: bool = False, fmt: Format | None = None
) -> set[str]:
    s = get_type(src)
    seen, todo = set(), [s.name]
    while todo:
        node = todo.pop()
        for e in _neighbours(node, guide_only, fmt):
            if e.dst not in seen and e.dst != s.name:
                seen.add(e.dst)
                todo.append(e.dst)
    return seen


def matrix(
    *, guide_only: bool = False, fmt: Format | None = None
) -> dict[str, dict[str, Route | None]]:
    """From x To: the route for every pair of distinct types (None when unreachable), in
    `fmt` when given (some edges convert conversational data only)."""
    out: dict[str, dict[str, Route | None]] = {}
    for s in TYPES:
        out[s] = {}
        for d in TYPES:
            if s == d:
                continue
            try:
                out[s][d] = route(s, d, guide_only=guide_only, fmt=fmt)
            except UsageError:
                out[s][d] = None
    return out


def mermaid(*, guide_only: bool = False) -> str:
    """The graph as a Mermaid flowchart (dashed arrows are lossy)."""
    lines = ["flowchart LR"]
    ids = {name: name.replace("-", "_") for name in TYPES}
    for name, t in TYPES.items():
        lines.append(f'    {ids[name]}["{t.title}"]')
    for (s, d), e in sorted(edges().items()):
        if guide_only and not e.guide:
            continue
        arrow = "-.->" if e.lossy else "-->"
        only = "" if len(e.formats) > 1 else f"{e.formats[0]} only"
        text = "; ".join(x for x in (e.drops, only) if x)
        label = f"|{text}|" if text else ""
        lines.append(f"    {ids[s]} {arrow}{label} {ids[d]}")
    return "\n".join(lines)
