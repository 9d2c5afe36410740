"""The `newsbot` command line.

Usage: newsbot [--config PATH] [--debug] COMMAND ...

    init [DIR] [--force]        write config.toml and feeds/ (the shipped recipes) into DIR
    run                         the daemon: poll on schedule, serve feeds, run the Telegram bot
    demo                        the daemon offline, against a simulated news site
    poll [FEED ...] [--dry-run] fetch now, store, publish; print the new items
    check RECIPE [--url U | --file F] [--article]
                                print what a recipe extracts, touching nothing stored
    feeds                       each feed with its item count, newest item and last poll
    detect URL|FILE [--all] [--timezone ZONE]  find the article list of a page, print a recipe
    add URL [--id ID] [--yes]   add a site or feed: its feed if it has one, else its list
    import FILE.opml            add each feed of an OPML file
    forget ID                   delete what is stored for a feed whose recipe was removed
    backup PATH                 a consistent copy of the database (also while `run` runs)
    migrate                     upgrade the database's schema (PostgreSQL: `run` will not)
    export --to URL             copy the whole store into an empty one (SQLite <-> PostgreSQL)

`run` and `poll` take --init: start a new database where the data dir's is missing or damaged.

`poll`, `check`, `feeds` and `detect` take --json. Exit codes: 0 ok, 1 failure, 2 usage.
Errors are one line on stderr; `--debug` shows tracebacks and debug logs.

This module holds the parser and the daemon's commands; the others live beside it, by concern:
bot.cli_pages (check, detect), bot.cli_store (poll, feeds, backup, migrate, export) and
bot.cli_sources (add, import, forget).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import __version__, cli_pages, cli_sources, cli_store, starter
from bot.cli_print import error as _error
from bot.errors import NewsbotError
from bot.logs import setup_logging

if TYPE_CHECKING:
    from bot.schema import Config

# Each command imports what it needs when it runs: a measured start-up reason (the exception to
# "imports at the top"). Importing everything up front cost `newsbot --help` 0.59 s and
# `newsbot check --file PAGE` 0.51 s against 33 ms for `python -c pass`: bot.app alone (scheduler,
# web server, Telegram stack) took 353 ms and pydantic config 202 ms (issue 13, -X importtime).
# `--help` now imports none of them, `check` only bot.recipes (bot.schema) and the source wing.
log = logging.getLogger("newsbot")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `newsbot` console script."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130
    except NewsbotError as exc:
        if args.debug:
            raise
        _error(str(exc))
        return 1
    except Exception as exc:  # a bug: still one line, the traceback is behind --debug
        if args.debug:
            raise
        _error(f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)")
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsbot", description="Feeds and Telegram alerts for news sites with no feed."
    )
    _add_common(parser, default=None)
    parser.add_argument("--version", action="version", version=f"newsbot {__version__}")
    # The same options after the command (`newsbot poll --debug`) without overriding them.
    common = argparse.ArgumentParser(add_help=False)
    _add_common(common, default=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=text, description=text, parents=[common])

    init = command("init", "write config.toml and feeds/ (the shipped recipes) into a folder")
    init.add_argument("folder", nargs="?", type=Path, default=Path("."), metavar="DIR",
                      help="where to write them (default: the current folder)")
    init.add_argument("--force", action="store_true", help="overwrite files already there")
    init.set_defaults(handler=cmd_init)

    run = command("run", "poll on schedule, serve feeds, run the Telegram bot")
    cli_store.add_init(run)
    run.set_defaults(handler=cmd_run)
    demo = command("demo", "the whole daemon offline, on a simulated news site")
    demo.add_argument("--port", type=int, default=8080, help="port of the feed server")
    demo.set_defaults(handler=cmd_demo)

    # In the order `newsbot --help` has always listed them.
    cli_store.add_poll(command, _config)
    cli_pages.add_check(command)
    cli_store.add_feeds(command, _config)
    cli_pages.add_detect(command)
    cli_sources.add_parsers(command, _config)
    cli_store.add_database(command, _config)
    return parser


def _add_common(parser: argparse.ArgumentParser, *, default: Any) -> None:
    parser.add_argument("--config", default=default,
                        help="config file (default: config.toml, or $NEWSBOT_CONFIG)")
    parser.add_argument("--debug", action="store_true", default=default or False,
                        help="show tracebacks and debug logs")


# --- commands ----------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    """Write the example config and the shipped recipes into a folder."""
    folder: Path = args.folder
    written = starter.write_starter(folder, force=args.force)
    for path in written:
        print(f"wrote {path}")
    where = "" if folder.resolve() == Path.cwd().resolve() else f"cd {folder} && "
    print(f"next: edit config.toml if you like, then `{where}newsbot run` "
          "(feeds on http://localhost:8080/)")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run the daemon until SIGINT/SIGTERM."""
    from bot import app

    config = _config(args, daemon=True)
    return app.run_daemon(config, debug=args.debug, init=args.init)


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the daemon against a simulated news site."""
    from bot import demo

    setup_logging("DEBUG" if args.debug else "INFO")
    return demo.run(port=args.port)


def _config(args: argparse.Namespace, *, daemon: bool = False) -> Config:
    from bot.config import find_config, load_config, missing_config_hint

    path, notice = find_config(args.config, os.environ)
    config = load_config(path, missing_hint=missing_config_hint(args.config, os.environ))
    # One-shot commands print their results; routine log lines would only bury them.
    quiet = "DEBUG" if args.debug else (config.log_level if daemon else "ERROR")
    setup_logging(quiet)
    if notice:
        print(f"newsbot: {notice}", file=sys.stderr)
    return config


if __name__ == "__main__":
    sys.exit(main())
