"""The map of `bot/` at git revisions: modules, import arrows, floors, modules over 400 lines.

Not a timing: issue 11's figures of the architecture, read from the code itself (an `ast` scan of
each module's `import` and `from … import` of other bot modules, at the revision given, so a past
layout can be measured beside today's). A *floor* is one step of the longest chain of imports.

    python benchmarks/module_map.py 41fa2b7 HEAD     # before the wings, and now
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass

BIG = 400  # lines: a module over it needs a reason in its docstring (issue 11)


@dataclass(frozen=True)
class ModuleMap:
    """What the layout of one revision looks like."""

    revision: str
    modules: int
    arrows: int
    floors: int
    big: list[tuple[str, int]]


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout


def _module_name(path: str) -> str:
    name = path.removesuffix(".py").replace("/", ".")
    return name.removesuffix(".__init__")


def _imports(name: str, text: str, modules: set[str], package: bool) -> set[str]:
    here = name if package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        targets: list[str] = []
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = here.split(".")[: len(here.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                       for alias in node.names]  # fmt: skip
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        found |= {t for t in targets if t in modules and t not in {name, "bot"}}
    return found


def module_map(revision: str) -> ModuleMap:
    """Scan `bot/` as it is at `revision`."""
    paths = [p for p in _git("ls-tree", "-r", "--name-only", revision, "bot/").split()
             if p.endswith(".py")]  # fmt: skip
    texts = {p: _git("show", f"{revision}:{p}") for p in paths}
    names = {_module_name(p) for p in paths}
    imports = {_module_name(p): _imports(_module_name(p), t, names, p.endswith("__init__.py"))
               for p, t in texts.items()}  # fmt: skip
    depth: dict[str, int] = {}

    def floor(name: str, seen: frozenset[str]) -> int:
        if name not in depth:
            below = [floor(d, seen | {name}) for d in imports[name] if d not in seen]
            depth[name] = 1 + max(below, default=0)
        return depth[name]

    real = [p for p, t in texts.items() if t.strip()]
    big = sorted(((_module_name(p).removeprefix("bot."), t.count("\n")) for p, t in texts.items()
                  if t.count("\n") > BIG), key=lambda b: -b[1])  # fmt: skip
    return ModuleMap(
        revision=revision,
        modules=len(real),
        arrows=sum(len(v) for v in imports.values()),
        floors=max(floor(n, frozenset()) for n in imports),
        big=big,
    )


def main(revisions: list[str]) -> None:
    maps = [module_map(r) for r in revisions or ["HEAD"]]
    first = maps[0]
    print(f"{'revision':<12} {'modules':>7} {'arrows':>6} {'per module':>10} {'floors':>6} "
          f"{'> ' + str(BIG) + ' lines':>11}  ratio arrows/module to the first")  # fmt: skip
    for m in maps:
        per = m.arrows / m.modules
        ratio = per / (first.arrows / first.modules)
        print(f"{m.revision[:12]:<12} {m.modules:>7} {m.arrows:>6} {per:>10.2f} {m.floors:>6} "
              f"{len(m.big):>11}  {ratio:.2f}")  # fmt: skip
    for m in maps:
        print(f"{m.revision[:12]}: over {BIG} lines: "
              + (", ".join(f"{n} {lines}" for n, lines in m.big) or "none"))


if __name__ == "__main__":
    main(sys.argv[1:])
