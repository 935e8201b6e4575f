"""Structured logs: stable snake_case event names with fields.

`configure_logging` is called once by the CLI. Services log JSON lines
(`--log-format json`, the default when stderr is not a terminal); a terminal
gets readable `event key=value` lines. Logs go to stderr, results to stdout.

Memory: `import structlog` imports `structlog.dev` and `structlog.tracebacks`,
which import rich and pygments when they are installed (~5 MB RSS), and the
deprecated `structlog.threadlocal`, which imports greenlet (~1 MB). The edge
agent on a Pi renders no rich output (docs/scaling.md: < 60 MB RSS), so unless the
process has already loaded rich, structlog is imported with both hidden; the
console renderer loads rich on the first traceback it prints, with
structlog's own defaults, so a terminal still gets rich tracebacks.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, TextIO

LogFormat = Literal["auto", "json", "console"]


@contextlib.contextmanager
def _hidden(*names: str) -> Iterator[None]:
    """Make `import name` fail inside the block, unless the process has loaded it already."""
    hide = [name for name in names if name not in sys.modules]
    for name in hide:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in hide:
            del sys.modules[name]


with _hidden("rich", "greenlet"):
    import structlog


class _RichTraceback:
    """structlog's default console traceback (`RichTracebackFormatter`), rich loaded on use.

    Falls back to a plain traceback when rich is not installed, as structlog does.
    """

    def __init__(self, colors: bool) -> None:
        self.colors = colors

    def __call__(self, sio: TextIO, exc_info: Any) -> None:
        dev: Any = structlog.dev
        if getattr(dev, "rich", None) is None:
            try:
                import rich
                from rich.console import Console
                from rich.traceback import Traceback
            except ImportError:
                dev.plain_traceback(sio, exc_info)
                return
            # The names structlog.dev binds at import when rich is there.
            dev.rich, dev.Console, dev.Traceback = rich, Console, Traceback
        if self.colors:
            dev.RichTracebackFormatter()(sio, exc_info)
        else:
            dev.RichTracebackFormatter(color_system=None)(sio, exc_info)


def configure_logging(level: str = "info", fmt: LogFormat = "auto") -> None:
    """Route structlog and stdlib logging to stderr in one format."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    colors = sys.stderr.isatty()
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(
            colors=colors, exception_formatter=_RichTraceback(colors)
        )
    )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(processor=renderer, foreign_pre_chain=shared)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # paho and psycopg are chatty at debug; keep them at warning unless asked.
    for noisy in ("paho", "psycopg", "asyncio", "numba"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """Return a structured logger: `log.info("outbox_flushed", sent=12, pending=3)`."""
    return structlog.get_logger(name)  # type: ignore[no-any-return]


def log_to_file(path: Path) -> None:
    """Send every log record to `path` as JSON lines instead of stderr (the demo's console
    stays for people; the file keeps what the components said, for when something fails)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processor=structlog.processors.JSONRenderer(), foreign_pre_chain=shared
        )
    )
    logging.getLogger().handlers[:] = [handler]
