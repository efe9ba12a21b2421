"""How every entry point ends when it cannot run: one line, never a traceback.

Standard library only, so it works under any Python: `app.py` (`make synth`), the simulator
(`make simulate`) and `python -m tools ...` use it before anything else is imported.

* Ctrl-C: `exit_quietly_on_interrupt` ends the process at once with "PROG: interrupted".
  Unwinding a KeyboardInterrupt through aws-cdk is not an option: the jsii kernel (a Node
  process in the same process group) dies of the same signal, so the unwinding prints the
  interrupted call's stack and then jsii's own broken-pipe error at exit.
* A Python without the tools' dependencies (the system `python3` instead of `.venv`):
  `install_tool_hook` turns the ModuleNotFoundError into what to run instead. It also covers a
  Ctrl-C while a tool is still importing (the tools handle it themselves once they run).
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

EXIT_USAGE = 2  # bad input: options, files, missing resources, the wrong Python; argparse uses 2 as well
EXIT_INTERRUPTED = 128 + signal.SIGINT  # what a shell reports for a process ended by Ctrl-C
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
OUR_PACKAGES = {"tools", "stacks", "lambdas", "tests", "benchmarks", "app"}
SETUP_COMMAND = "make tools"  # the Makefile target that installs requirements-tools.txt into .venv


def exit_quietly_on_interrupt(prog: str, cleanup: Callable[[], None] | None = None) -> None:
    """From now on, Ctrl-C ends the process with one line and exit code 130 (after `cleanup`)."""

    def stop(_signum: int, _frame: Any) -> None:
        print(f"\n{prog}: interrupted", file=sys.stderr, flush=True)
        if cleanup is not None:
            cleanup()
        os._exit(EXIT_INTERRUPTED)  # no unwinding, no atexit handlers (see the module docstring)

    signal.signal(signal.SIGINT, stop)


def missing_dependency_message(prog: str, module: str, command: str) -> str:
    return (
        f"{prog}: error: {sys.executable} has no module {module!r} (Python {sys.version_info.major}."
        f"{sys.version_info.minor}); run `{SETUP_COMMAND}` once, then `.venv/bin/python {command}`"
    )


def minimum_python() -> tuple[int, ...]:
    """pyproject.toml's `requires-python = ">=X.Y"` (read as text: tomllib needs 3.11 itself)."""
    found = re.search(r'^requires-python\s*=\s*">=\s*([\d.]+)"', PYPROJECT.read_text(), re.M)
    return tuple(int(part) for part in found.group(1).split(".")) if found else (3,)


def old_python_message(prog: str, command: str) -> str:
    wanted = ".".join(map(str, minimum_python()))
    return (
        f"{prog}: error: needs Python {wanted}+, this is {sys.version.split()[0]} ({sys.executable}); "
        f"run `{SETUP_COMMAND}` once, then `.venv/bin/python {command}`"
    )


def tool_command(argv: list[str]) -> tuple[str, str]:
    """(prog, the same command for .venv's Python) from the interpreter's original arguments."""
    if "-m" not in argv[:-1]:
        return "tools", "-m tools"
    at = argv.index("-m")
    module, rest = argv[at + 1], argv[at + 2 :]
    if module == "tools" and rest and not rest[0].startswith("-"):
        prog = rest[0]  # python -m tools report ...
    else:
        prog = module.rsplit(".", 1)[-1].replace("_", "-")
    return prog, shlex.join(["-m", module, *rest])


def tool_excepthook(prog: str, command: str, previous: Callable[..., Any]) -> Callable[..., Any]:
    def hook(kind: type[BaseException], value: BaseException, traceback: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            print(f"\n{prog}: interrupted", file=sys.stderr)
            return
        if isinstance(value, ModuleNotFoundError) and value.name and value.name.split(".")[0] not in OUR_PACKAGES:
            print(missing_dependency_message(prog, value.name, command), file=sys.stderr)
            return
        previous(kind, value, traceback)

    return hook


def install_tool_hook() -> None:
    """For `python -m tools...` only: called by tools/__init__.py while runpy imports the package."""
    prog, command = tool_command(list(getattr(sys, "orig_argv", sys.argv)))
    if sys.version_info < minimum_python():
        print(old_python_message(prog, command), file=sys.stderr)
        sys.exit(EXIT_USAGE)
    sys.excepthook = tool_excepthook(prog, command, sys.excepthook)
