"""The layout's rules, read from the code's imports (ast), so a change cannot quietly break them.

- `bot/` has four wings: source (a site's pages -> items), store (persistence), publish (items ->
  feeds and pages, the web server), telegram (the bot, delivery, commands). A wing imports the
  value-and-rule modules beside it and its own modules, never another wing.
- The value-and-rule modules (model, errors, filters, …) import no wing.
- Only the composition modules (pipeline, feedfiles, scheduler, app, cli, demo) know several wings.
- Each third-party library is imported by exactly one module.
- No import cycle; no import inside a function unless listed here with its measured reason.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parent.parent / "bot"
WINGS = frozenset({"source", "store", "publish", "telegram"})
COMPOSITION = frozenset({"bot.pipeline", "bot.feedfiles", "bot.scheduler", "bot.app", "bot.cli",
                         "bot.demo",
                         "bot.add", "bot.add_opml", "bot.cli_sources", "bot.cli_pages",
                         "bot.cli_store", "bot.daemonbot",
                         "bot.__main__"})

# library -> the one module allowed to import it
THIRD_PARTY = {
    "lxml": "bot.source.dom",
    "cssselect": "bot.source.dom",
    "charset_normalizer": "bot.source.charsets",
    "httpx": "bot.source.fetch",
    "httpcore": "bot.source.connect",  # resolve, check and connect in one step (SSRF guard)
    "pydantic": "bot.schema",  # every TOML file's shape (config and recipes)
    "nh3": "bot.publish.sanitize",
    "feedparser": "bot.source.feeds",
    "readability": "bot.source.readable",
    "starlette": "bot.publish.web",
    "uvicorn": "bot.publish.serving",
    "prometheus_client": "bot.publish.metrics",
    "telegram": "bot.telegram.ptb",
    "apscheduler": "bot.scheduler",
    "sqlite3": "bot.store.sqlite",  # stdlib, but a store driver: one module holds it
    "psycopg": "bot.store.postgres",
    "psycopg_pool": "bot.store.postgres",
}

# (importer, imported module prefix) -> why a rule module may reach into a wing
RULE_EXCEPTIONS = {
    ("bot.schema", "bot.source.dom"):
        "recipes' selectors are checked by the same CSS compiler that runs them",
}
SIDEWAYS_EXCEPTIONS: dict[tuple[str, str], str] = {}
# (module, function) -> the measured reason an import waits until the function runs
_CLI_START = ("newsbot --help / check start-up: bot.app alone was 353 ms of 590 (issue 13); "
              "bot.model with dataclasses 26 of --help's ~95 ms of imports")
LATE_IMPORTS: dict[tuple[str, str], str] = {
    ("bot.cli", name): _CLI_START for name in ("cmd_run", "cmd_demo", "_config")
} | {
    ("bot.cli_pages", name): _CLI_START
    for name in ("cmd_check", "_check_article", "cmd_detect", "_recipe", "_propose", "read_page",
                 "_fetch_one")
} | {
    ("bot.cli_store", name): _CLI_START
    for name in ("cmd_poll", "_read_store", "_poll", "cmd_feeds", "_feed_row", "cmd_backup",
                 "cmd_migrate", "cmd_export")
} | {
    # Libraries only some pages need, out of `newsbot check`'s start-up (issue 13 row 5b; one
    # `-X importtime` run of `check feeds/haiphong.toml --file listing.html`, cumulative ms of
    # ~500): readability 33, feedparser 28, the list detector 26, charset_normalizer 9.
    ("bot.source.readable", "main_content"): "readability: only `content = \"auto\"` articles",
    ("bot.source.feeds", "_parse_xml"): "feedparser: only feed recipes",
    ("bot.source.listing", "_detect"): "the detector: only pages whose rules fail or are absent",
    ("bot.source.charsets", "decode_by_guess"):
        "charset_normalizer: only pages with no usable label",
} | {
    ("bot.cli_sources", name): _CLI_START
    for name in ("cmd_add", "cmd_import", "cmd_forget", "_sources", "_propose", "_import")
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(BOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(encoding="utf-8"))
            for p in sorted(BOT.rglob("*.py"))}


def imported_names(node: ast.AST) -> Iterator[str]:
    """Dotted names an import brings in (`from bot.x import y` gives bot.x and bot.x.y)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        yield node.module
        if node.module.split(".")[0] == "bot":
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def top_level_imports(tree: ast.Module) -> Iterator[str]:
    """Imports that run when the module loads (not in functions, not under `if TYPE_CHECKING:`)."""
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        yield from imported_names(node)
        stack.extend(ast.iter_child_nodes(node))


def wing_of(name: str) -> str | None:
    """The wing a module is in; None for a package `bot.<wing>` itself (its modules count)."""
    parts = name.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "bot" and parts[1] in WINGS else None


def all_imports(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        yield from imported_names(node)


MODULES = modules()


def test_the_folder_tree_shows_the_four_wings() -> None:
    for wing in WINGS:
        assert (BOT / wing / "__init__.py").is_file(), wing
    flat = {p.stem for p in BOT.glob("*.py")}
    assert not flat & {"fetch", "dom", "scrape", "store", "web", "delivery", "telegram"}, flat


@pytest.mark.parametrize("library", sorted(THIRD_PARTY))
def test_each_library_is_imported_by_its_one_module(library: str) -> None:
    importers = {name for name, tree in MODULES.items()
                 if any(n.split(".")[0] == library for n in all_imports(tree))}
    assert importers == {THIRD_PARTY[library]}


def test_no_unlisted_third_party_library() -> None:
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    used = {n.split(".")[0] for tree in MODULES.values() for n in all_imports(tree)}
    unknown = used - stdlib - {"bot"} - set(THIRD_PARTY)
    assert not unknown, f"add {sorted(unknown)} to THIRD_PARTY with the one module allowed"


def test_wings_never_import_each_other_sideways() -> None:
    found = set()
    for name, tree in MODULES.items():
        own = wing_of(name)
        for imported in all_imports(tree):
            other = wing_of(imported)
            if own and other and other != own:
                found.add((name, ".".join(imported.split(".")[:3])))
    assert found <= set(SIDEWAYS_EXCEPTIONS), sorted(found - set(SIDEWAYS_EXCEPTIONS))
    stale = set(SIDEWAYS_EXCEPTIONS) - found
    assert not stale, f"no longer needed, remove: {sorted(stale)}"


def test_command_groups_import_only_the_shared_command_modules() -> None:
    """The /command mixins share `base` and `text`; only `dispatch` composes them."""
    shared = {"bot.telegram.commands.base", "bot.telegram.commands.text"}
    found = set()
    for name, tree in MODULES.items():
        if not name.startswith("bot.telegram.commands.") or name.endswith(".dispatch"):
            continue
        for imported in all_imports(tree):
            module = ".".join(imported.split(".")[:4])
            if module.startswith("bot.telegram.commands.") and module not in shared | {name}:
                found.add((name, module))
    assert not found, sorted(found)


def test_value_and_rule_modules_import_no_wing() -> None:
    found = set()
    for name, tree in MODULES.items():
        if wing_of(name) or name in COMPOSITION or name == "bot":
            continue
        for imported in all_imports(tree):
            if wing_of(imported):
                found.add((name, ".".join(imported.split(".")[:3])))
    assert found == set(RULE_EXCEPTIONS), sorted(found ^ set(RULE_EXCEPTIONS))


def test_no_import_inside_a_function_without_a_reason() -> None:
    late = set()
    for name, tree in MODULES.items():
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = [n for n in ast.walk(fn) if isinstance(n, ast.Import | ast.ImportFrom)]
                if inner:
                    late.add((name, fn.name))
    assert late == set(LATE_IMPORTS), sorted(late ^ set(LATE_IMPORTS))


def test_no_import_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for name, tree in MODULES.items():
        graph[name] = {n for n in top_level_imports(tree) if n in MODULES and n != name}
    done: set[str] = set()

    def visit(node: str, path: tuple[str, ...]) -> None:
        if node in path:
            raise AssertionError("import cycle: " + " -> ".join((*path[path.index(node):], node)))
        if node in done:
            return
        for nxt in sorted(graph[node]):
            visit(nxt, (*path, node))
        done.add(node)

    for name in sorted(graph):
        visit(name, ())


def test_the_checks_see_a_violation() -> None:
    """The scanner itself: a sideways import written into a sample module is found."""
    tree = ast.parse("from bot.store.db import Store\n\ndef f():\n    import httpx\n")
    names = set(all_imports(tree))
    assert {"bot.store.db", "bot.store.db.Store", "httpx"} <= names
    assert wing_of("bot.store.db") == "store" and wing_of("bot.model") is None
    assert "httpx" not in set(top_level_imports(tree))
