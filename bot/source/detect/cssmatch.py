"""The CSS the list detector writes, and a fast matcher for it over one parsed page.

The subset: compound steps (`tag`, `tag.a.b`, `tag#id`) joined by descendant (` `) or child
(` > `) combinators. `Index` keeps one page's lookups (elements by tag, class and id) and the
matcher's memos; `select` and `first_in` give what `bot.source.dom.select` gives for the same CSS
(the tests check), but a list's elements share ancestors and lists share elements, so the
memos make matching hundreds of candidate selectors cheap.

Pure: no I/O. Elements are `bot.source.dom` Nodes; the page is parsed by `bot.source.dom` only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from bot.source import dom
from bot.source.dom import Node

_CSS_IDENT = re.compile(r"^-?[A-Za-z_][A-Za-z0-9_-]*$")
_HASHED_PART = re.compile(r"^[A-Za-z]{4,7}$")  # with an inner capital: kFnjUG, HEhan, FyrdD
_NAME_PARTS = re.compile(r"[-_]")


@dataclass(frozen=True)
class Step:
    """One compound selector: tag, classes, id."""

    tag: str
    classes: frozenset[str] = frozenset()
    ident: str | None = None
    css: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        css = (
            f"{self.tag}#{self.ident}"
            if self.ident
            else self.tag + "".join(f".{name}" for name in sorted(self.classes))
        )
        object.__setattr__(self, "css", css)  # asked for again and again: write it once


class Selector:
    """Steps joined by ' ' (descendant) or ' > ' (child); equal when their CSS is."""

    __slots__ = ("child", "css", "steps")

    def __init__(self, steps: tuple[Step, ...], child: tuple[bool, ...] = ()) -> None:
        self.steps = steps
        self.child = child  # child[i]: steps[i] and steps[i+1] are joined by '>'
        parts = [steps[0].css]
        for is_child, step in zip(child, steps[1:], strict=True):
            parts.append((" > " if is_child else " ") + step.css)
        self.css = "".join(parts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Selector) and other.css == self.css

    def __hash__(self) -> int:
        return hash(self.css)

    def __repr__(self) -> str:
        return f"Selector({self.css!r})"


@lru_cache(maxsize=4096)
def one_step(tag: str, classes: frozenset[str] = frozenset()) -> Selector:
    """`tag.a.b` (built once: pages repeat them)."""
    return Selector((Step(tag, classes),))


@lru_cache(maxsize=1024)
def parse_css(css: str) -> Selector:
    """Parse CSS in the subset the detector writes (`a.b#c > d e`)."""
    tokens = css.replace(">", " > ").split()
    steps: list[Step] = []
    child: list[bool] = []
    pending_child = False
    for token in tokens:
        if token == ">":
            pending_child = True
            continue
        if steps:
            child.append(pending_child)
        pending_child = False
        tag = re.split(r"(?=[.#])", token, maxsplit=1)[0]
        ident_match = re.search(r"#([^.#]+)", token)
        steps.append(
            Step(
                tag or "*",
                frozenset(re.findall(r"\.([^.#]+)", token)),
                ident_match.group(1) if ident_match else None,
            )
        )
    return Selector(tuple(steps), tuple(child))


def stable_classes(element: Node) -> frozenset[str]:
    """Class names likely to survive a redeploy (not CSS-in-JS hashes such as `sc-kFnjUG`)."""
    return _stable_names(element.get("class") or "")


@lru_cache(maxsize=4096)
def _stable_names(value: str) -> frozenset[str]:
    kept = set()
    for name in value.split():
        if not _CSS_IDENT.match(name) or name.startswith("sc-"):
            continue
        if any(_is_hashed(part) for part in _NAME_PARTS.split(name)):
            continue
        kept.add(name)
    return frozenset(kept)


def _is_hashed(part: str) -> bool:
    return bool(_HASHED_PART.match(part)) and any(ch.isupper() for ch in part[1:])


class Index:
    """One page's elements by tag, class and id, and the matcher's memos.

    Built on first use; lxml iterates in C and only the elements we touch get Python objects.
    """

    def __init__(self, root: Node) -> None:
        self.root = root
        self._by_tag: dict[str, list[Node]] = {}
        self._by_class: dict[str, list[Node]] = {}
        self._by_id: dict[str, list[Node]] = {}
        self._indexed = False
        self._classes: dict[Node, frozenset[str]] = {}
        self._anchors: dict[Node, list[Node]] = {}
        self._selected: dict[str, list[Node]] = {}
        self._first: dict[tuple[Node, str], Node | None] = {}
        self._above: dict[tuple[Node, str, int], bool] = {}

    def tagged(self, tag: str) -> list[Node]:
        """Every element with this tag, in document order."""
        found = self._by_tag.get(tag)
        if found is None:
            found = self._by_tag[tag] = list(self.root.iter(tag))
        return found

    def with_class(self, name: str) -> list[Node]:
        """Every element with this class name, in document order."""
        self._index()
        return self._by_class.get(name, [])

    def with_id(self, ident: str) -> list[Node]:
        """Every element with this id (pages repeat ids), in document order."""
        self._index()
        return self._by_id.get(ident, [])

    def classes(self, element: Node) -> frozenset[str]:
        """The element's class names (memoised: matching asks for them again and again)."""
        names = self._classes.get(element)
        if names is None:
            value = element.get("class")
            names = self._classes[element] = frozenset(value.split()) if value else frozenset()
        return names

    def anchors_in(self, element: Node) -> list[Node]:
        """The <a> elements at or below `element`, in document order."""
        found = self._anchors.get(element)
        if found is None:
            found = self._anchors[element] = list(element.iter("a"))
        return found

    def _index(self) -> None:
        if self._indexed:
            return
        self._indexed = True
        for element in dom.select(self.root, "[class], [id]"):
            value = element.get("class")
            if value:
                for name in value.split():
                    found = self._by_class.setdefault(name, [])
                    if not found or found[-1] is not element:  # `class="a a"` is one match
                        found.append(element)
            ident = element.get("id")
            if ident:
                self._by_id.setdefault(ident, []).append(element)


def select(index: Index, selector: Selector) -> list[Node]:
    """Elements of the page matching a selector, in document order (memoised)."""
    found = index._selected.get(selector.css)
    if found is None:
        last = len(selector.steps) - 1
        found = [e for e in _pool(index, selector) if _match(index, e, selector, last, None)]
        index._selected[selector.css] = found
    return found


def first_in(index: Index, item: Node, selector: Selector) -> Node | None:
    """What `select(item, css)[0]` gives: the first match at or below `item` (memoised)."""
    key = (item, selector.css)
    if key in index._first:
        return index._first[key]
    tag = selector.steps[-1].tag
    last = len(selector.steps) - 1
    candidates = index.anchors_in(item) if tag == "a" else item.iter(tag)
    found = next((e for e in candidates if _match(index, e, selector, last, item)), None)
    index._first[key] = found
    return found


def _pool(index: Index, selector: Selector) -> list[Node]:
    """Elements that may match: by a class or the parent's id/class when there is one."""
    last = selector.steps[-1]
    if last.classes:
        return min((index.with_class(name) for name in last.classes), key=len)
    if len(selector.steps) > 1 and selector.child[-1]:
        parent = selector.steps[-2]
        if parent.ident:
            parents = index.with_id(parent.ident)
        elif parent.classes:
            parents = min((index.with_class(name) for name in parent.classes), key=len)
        else:
            return _inside_context(index, selector)
        children = [child for p in parents for child in p.iterchildren(last.tag)]
        if len(parents) > 1 and _nested(parents):  # chip.de: submenus inside submenus
            rank = {node: n for n, node in enumerate(index.root.iter())}
            children.sort(key=rank.__getitem__)
        return children
    return _inside_context(index, selector)


def _nested(parents: list[Node]) -> bool:
    """Whether one of these elements is inside another (their children are then not listed in
    document order parent by parent)."""
    inside = set(parents)
    return any(above in inside for node in parents for above in node.iterancestors())


def _inside_context(index: Index, selector: Selector) -> list[Node]:
    """Elements with the last step's tag, below the first step's element when it has an id."""
    first, tag = selector.steps[0], selector.steps[-1].tag
    contexts = index.with_id(first.ident) if first.ident and len(selector.steps) > 1 else []
    if len(contexts) == 1:  # one subtree, in document order (an id used twice: the whole page)
        return list(contexts[0].iter(tag))
    return index.tagged(tag)


def _match(index: Index, element: Node, selector: Selector, at: int, scope: Node | None) -> bool:
    """Whether `element` matches steps[:at + 1]; ancestors are looked for up to `scope`."""
    step = selector.steps[at]
    if element.tag != step.tag or (step.ident and element.get("id") != step.ident):
        return False
    if step.classes and not step.classes <= index.classes(element):
        return False
    if at == 0:
        return True
    if element is scope:
        return False
    ancestor = element.getparent()
    if selector.child[at - 1]:
        return ancestor is not None and _match(index, ancestor, selector, at - 1, scope)
    if scope is None and ancestor is not None:
        return _above(index, ancestor, selector, at - 1)
    while ancestor is not None:
        if _match(index, ancestor, selector, at - 1, scope):
            return True
        if ancestor is scope:
            return False
        ancestor = ancestor.getparent()
    return False


def _above(index: Index, element: Node, selector: Selector, at: int) -> bool:
    """Whether `element` or an ancestor matches steps[:at + 1] (memoised: lists share them;
    a loop, not recursion: pages nest deep)."""
    path: list[Node] = []
    current: Node | None = element
    found = False
    while current is not None:
        cached = index._above.get((current, selector.css, at))
        if cached is not None:
            found = cached
            break
        if _match(index, current, selector, at, None):
            path.append(current)
            found = True
            break
        path.append(current)
        current = current.getparent()
    for node in path:
        index._above[(node, selector.css, at)] = found
    return found
