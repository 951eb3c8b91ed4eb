"""Keeping orbax's and asyncio's noise about a failed read or write out of the
user's terminal: the caller reports that error once, in one message."""

import contextlib
import logging
import sys
import traceback


def _is_loop_noise(error) -> bool:
  return isinstance(error, RuntimeError) and str(error) == "Event loop is closed"


class _OrbaxErrorFilter(logging.Filter):
  """Drops the ERROR records of a failed orbax read or write: orbax's own
  (it logs its whole traceback) and asyncio's "Task exception was never
  retrieved" for each of orbax's write tasks (logged when they are garbage
  collected, often at exit). The same error reaches the caller, which reports
  it once."""

  def filter(self, record: logging.LogRecord) -> bool:
    if record.levelno < logging.ERROR:
      return True
    if "orbax" in record.pathname:
      return False
    tb = record.exc_info[2] if record.exc_info else None
    return not any("orbax" in frame.f_code.co_filename
                   for frame, _ in traceback.walk_tb(tb))


def drop_background_noise() -> None:
  """After a failed read or write, tensorstore's pending callbacks hit
  orbax's closed event loop and print one 'Event loop is closed' traceback
  each (dozens, at any later time), and orbax logs each failure with its
  traceback. Drops exactly those; everything else is printed as before."""
  if getattr(sys.excepthook, "hwr_jax", False):
    return
  excepthook, unraisablehook = sys.excepthook, sys.unraisablehook

  def on_exception(kind, value, tb):
    if not _is_loop_noise(value):
      excepthook(kind, value, tb)

  def on_unraisable(info):
    if not _is_loop_noise(info.exc_value):
      unraisablehook(info)
  on_exception.hwr_jax = True
  sys.excepthook, sys.unraisablehook = on_exception, on_unraisable
  for name in ("absl", "asyncio"):
    logging.getLogger(name).addFilter(_OrbaxErrorFilter())


@contextlib.contextmanager
def quiet():
  """Silences what orbax and asyncio log from a failing read (dozens of
  tracebacks from background tasks); the caller reports the error once."""
  drop_background_noise()
  loggers = [logging.getLogger(n) for n in ("absl", "asyncio", "orbax", "jax")]
  levels = [l.level for l in loggers]
  for l in loggers:
    l.setLevel(logging.CRITICAL)
  try:
    yield
  finally:
    for l, level in zip(loggers, levels):
      l.setLevel(level)
