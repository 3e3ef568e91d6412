"""How the CLI writes to the terminal: results to stdout, proj's own messages to stderr."""

from __future__ import annotations

import json
import os
import re
import sys
from typing import BinaryIO

from runner.errors import EnvironmentSetupError, ProjError
from runner.secrets import redact_text, secret_values

# Control characters other than newline and tab, and the C1 range: a value recorded from a run
# (a run name, a parameter, a metric problem) must not move the cursor or recolour the terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` with every terminal control character written as a visible escape (`\\x1b`)."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


class Settings:
    """Options given before the command, read by the error boundary."""

    debug = False
    output_format = "text"  # a command's --format, so that errors are reported in it too


class Colour:
    """`--color`: auto (on a terminal, unless NO_COLOR is set or TERM is dumb), always or never."""

    mode = "auto"

    @classmethod
    def on(cls, err: bool) -> bool:
        if cls.mode != "auto":
            return cls.mode == "always"
        if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":  # https://no-color.org
            return False
        stream = sys.stderr if err else sys.stdout
        return stream.isatty()


STATUS_COLOURS = {"FINISHED": "green", "FAILED": "red", "KILLED": "yellow", "LOST": "magenta", "RUNNING": "cyan"}
_STATUS = re.compile(r"\b(" + "|".join(STATUS_COLOURS) + r")\b")


# The SGR codes of the colours proj uses (the same codes as click's `style`, which proj used
# before: its CLI's plain paths no longer import typer and click, see runner/cli/quick_run.py).
_COLOUR_CODES = {"red": 31, "green": 32, "yellow": 33, "magenta": 35, "cyan": 36}
_ANSI = re.compile(r"\033\[[;?0-9]*[a-zA-Z]")


def style(text: str, fg: str, *, bold: bool = False) -> str:
    """`text` in colour `fg` (and bold), reset after it."""
    return f"\033[{_COLOUR_CODES[fg]}m" + ("\033[1m" if bold else "") + text + "\033[0m"


def echo(text: str, *, err: bool = False, color: bool | None = None) -> None:
    """One line on stdout (or stderr), flushed; colour codes taken out unless `color` (by
    default: unless the stream is a terminal)."""
    stream = sys.stderr if err else sys.stdout
    if stream is None:
        return
    if not (stream.isatty() if color is None else color):
        text = _ANSI.sub("", text)
    try:
        stream.write(text + "\n")
    except UnicodeEncodeError:  # a stream that cannot encode every character: replaced, not lost
        encoding = stream.encoding or "utf-8"
        stream.write((text + "\n").encode(encoding, "replace").decode(encoding))
    stream.flush()


def paint(text: str, err: bool, fg: str, *, bold: bool = False) -> str:
    """`text` in colour when the stream it goes to shows colour (see `Colour`)."""
    return style(text, fg, bold=bold) if Colour.on(err) else text


def _statuses_painted(text: str, err: bool) -> str:
    # Applied last, to text already made printable and padded: the codes add no visible width.
    if not Colour.on(err):
        return text
    return _STATUS.sub(lambda m: style(m.group(), STATUS_COLOURS[m.group()]), text)


def emit(text: str) -> None:
    """A result, on stdout (what scripts capture); run statuses in it in colour on a terminal."""
    echo(_statuses_painted(printable(text), err=False), color=Colour.on(err=False))


def emit_json(data: object) -> None:
    echo(json.dumps(data, indent=2, default=str))


def message(text: str) -> str:
    """proj's own words as they may be shown: secrets redacted, control characters visible."""
    return printable(redact_text(text, secret_values()))


def note(text: str) -> None:
    """proj's own progress and summaries, on stderr so stdout stays the project's."""
    echo(f"proj: {_statuses_painted(message(text), err=True)}", err=True, color=Colour.on(err=True))


def warn(text: str) -> None:
    echo(paint("proj: warning: ", True, "yellow") + message(text), err=True, color=Colour.on(err=True))


def show_error(err: ProjError) -> None:
    if isinstance(err, EnvironmentSetupError) and err.output:
        output = redact_text(err.output, secret_values())  # a build tool's own output: kept as it is otherwise
        sys.stderr.write(output if output.endswith("\n") else output + "\n")
    echo(paint("proj: error: ", True, "red", bold=True) + message(str(err)), err=True, color=Colour.on(err=True))


def copy_to_stdout(handle: BinaryIO) -> None:
    """Stream a file to stdout as it is; a reader that goes away (`| head`) ends it quietly."""
    out = sys.stdout.buffer
    try:
        import shutil  # here: shutil imports its compression modules (start-up budget)

        shutil.copyfileobj(handle, out, 1024 * 1024)
        out.flush()
    except BrokenPipeError:
        # Python flushes stdout again at exit; point it at /dev/null so that flush cannot fail.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def table(rows: list[list[str]], headers: list[str]) -> str:
    """Left-aligned columns separated by two spaces."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)
