"""How a proxy process runs: its event loop and its allocator. Called once, at process start,
by the processes that serve (``kgate exec``'s proxy child, ``kgate proxy``), never by tests that
run a proxy on a thread.

* uvloop, when it is installed (the ``fast`` extra) and ``KGATE_LOOP`` is not ``asyncio``:
  libuv's loop does the same work as asyncio's for less CPU per request. Plain asyncio stays
  correct; ``KGATE_LOOP=asyncio`` forces it.
* glibc's malloc: by default it raises its mmap and trim thresholds as large blocks are freed,
  so a proxy that allocates and frees 16-256 KiB TLS and body buffers keeps mapping, trimming
  and page-faulting them anew. Fixed thresholds (mmap above 1 MiB, trim only past 64 MiB of free
  heap) keep those buffers in the heap. A platform without glibc's ``mallopt`` is left alone.
  The price is memory a burst of large replies freed staying resident (up to 64 MiB per
  malloc arena): ``large_reply`` notes each reply of ``TRIM_AFTER`` bytes or more, and once
  none has come for ``TRIM_IDLE`` seconds ``malloc_trim`` hands the free pages back. A busy
  proxy keeps its heap (no page-fault storms); an idle one shrinks.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1024 * 1024
TRIM_THRESHOLD = 64 * 1024 * 1024
#: A reply this large leaves freed buffers in the heap worth returning once the proxy is idle.
TRIM_AFTER = 256 * 1024
#: Seconds without a large reply after which the heap is trimmed.
TRIM_IDLE = 2.0


def tune_malloc() -> bool:
    """Fix glibc's mmap and trim thresholds; False where there is no glibc to tune."""
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it (musl, macOS do not)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    tuned = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                 and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    if tuned:
        trim = libc.malloc_trim
        trim.argtypes = (ctypes.c_size_t,)
        trim.restype = ctypes.c_int
        _trimmer.malloc_trim = trim
    return tuned


class _IdleTrim:
    """Trims the heap ``TRIM_IDLE`` seconds after the last large reply (see the module
    docstring); does nothing unless ``tune_malloc`` raised the thresholds in this process."""

    def __init__(self) -> None:
        self.malloc_trim: Callable[[int], int] | None = None
        self._timer: asyncio.TimerHandle | None = None

    def large_reply(self) -> None:
        if self.malloc_trim is None:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(TRIM_IDLE, self._trim)

    def _trim(self) -> None:
        self._timer = None
        if self.malloc_trim is not None:
            self.malloc_trim(0)


_trimmer = _IdleTrim()


def large_reply(size: int) -> None:
    """A reply of ``size`` bytes went out: if large, trim the heap once the proxy is idle."""
    if size >= TRIM_AFTER:
        _trimmer.large_reply()


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on uvloop when it is available and wanted."""
    if os.environ.get("KGATE_LOOP", "").lower() != "asyncio":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.run(main)
    return asyncio.run(main)


def serving(main: Coroutine[Any, Any, T]) -> T:
    """Run a serving process's main coroutine: allocator tuned, then the loop."""
    tune_malloc()
    return run(main)
