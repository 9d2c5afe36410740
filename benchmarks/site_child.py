"""The fake news site (tests/fakes/site.py) in a child process, so that its CPU is not counted as
newsbot's: a benchmark reads its own CPU time, and the site's would inflate it.

    site = SiteChild(REAL_PAGE)            # serves variants of that page on 127.0.0.1, port 0
    site.serve("/a", "newitem")            # every request: a new first item (fresh ETag)
    site.url_for("/a"); site.stats(); site.close()

Modes per path: `static` (ETag + Last-Modified: 304 to a conditional GET), `plain` (no
validators: always 200 with the same bytes), `newitem` (each request a new first item),
`comment` (each request a new HTML comment, same items). `many PREFIX N` serves N static pages
PREFIX/0 .. PREFIX/N-1 and `bump PREFIX N G` gives each of them a new first item (generation G).
Not a benchmark itself (run.py runs bench_*.py only).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from benchlib import with_comment, with_new_first_item  # also puts tests/ on sys.path
from fakes.site import Behaviour, FakeSite


class RollingSite(FakeSite):
    """A FakeSite whose rolling paths get a new body before each request is answered."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.rolling: dict[str, Callable[[int], bytes]] = {}
        self.turns: dict[str, int] = {}

    def _behaviour(self, path: str) -> Behaviour | None:
        make = self.rolling.get(path)
        if make is not None:
            turn = self.turns.get(path, 0)
            self.turns[path] = turn + 1
            self.set_page(path, make(turn))
        return super()._behaviour(path)


def serve(page: Path, host: str) -> None:
    """Child: answer commands on stdin, one per line, with one line on stdout."""
    body = page.read_bytes()
    site = RollingSite.start_in_thread(host)
    print(json.dumps({"port": site.port}), flush=True)
    modes: dict[str, Callable[[int], bytes]] = {
        "newitem": lambda n: with_new_first_item(body, n),
        "comment": lambda n: with_comment(body, n),
    }
    for line in sys.stdin:
        command, *args = line.split()
        if command == "static":
            site.set_page(args[0], body)
        elif command == "plain":
            site.set_page(args[0], body, etag="", last_modified="")
        elif command in modes:
            site.rolling[args[0]] = modes[command]
        elif command == "many":
            for n in range(int(args[1])):
                site.set_page(f"{args[0]}/{n}", body)
        elif command == "bump":
            prefix, count, generation = args[0], int(args[1]), int(args[2])
            for n in range(count):
                site.set_page(f"{prefix}/{n}", with_new_first_item(body, generation * 100_000 + n))
        elif command == "stats":
            conditional = sum(1 for r in site.log if "if-none-match" in r.headers)
            print(json.dumps({"requests": len(site.log), "conditional": conditional,
                              "errors": site.errors[:3]}), flush=True)  # fmt: skip
            continue
        print("ok", flush=True)
    site.stop_thread()


class SiteChild:
    """The parent's handle on the child process."""

    def __init__(self, page: Path, host: str = "127.0.0.1") -> None:
        """`host` 0.0.0.0: the site answers on 127.0.0.2, 127.0.0.3... too (one site, many
        hosts as the fetcher sees them)."""
        self.proc = subprocess.Popen([sys.executable, __file__, str(page), host],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)  # fmt: skip
        self.port = int(json.loads(self._line())["port"])
        self.base_url = f"http://127.0.0.1:{self.port}"

    def url_for(self, path: str) -> str:
        return self.base_url + path

    def ask(self, *words: object) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(" ".join(str(word) for word in words) + "\n")
        self.proc.stdin.flush()
        return self._line().strip()

    def serve(self, path: str, mode: str) -> None:
        if self.ask(mode, path) != "ok":
            raise RuntimeError(f"the site child refused {mode} {path}")

    def stats(self) -> dict[str, object]:
        return dict(json.loads(self.ask("stats")))

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the site process exited")
        return line

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(10)

    def __enter__(self) -> SiteChild:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    serve(Path(sys.argv[1]), sys.argv[2])
