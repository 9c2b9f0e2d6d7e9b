"""Ctrl-C that always stops a long run, at a point where what it made can be kept.

Usage:
    with interrupts.stop_on_interrupt():
        for item in work:
            interrupts.check()      # raises KeyboardInterrupt after a Ctrl-C
            ...

Python raises KeyboardInterrupt wherever the main thread happens to be when SIGINT arrives;
inside a weakref or ``__del__`` callback (h5py's object clean-up, garbage collection) it is
printed as "Exception ignored" and lost, and the run carries on as if nothing happened. Inside
``stop_on_interrupt()`` the first Ctrl-C only records the request; the long loops call ``check()``
at safe points, where it raises KeyboardInterrupt for the caller to keep its output and exit 130.
A second Ctrl-C ends the process at once, killed by SIGINT as if no handler were installed.
"""
import contextlib
import os
import signal
import threading

_requested = threading.Event()


def requested():
    """Whether Ctrl-C was pressed inside the active ``stop_on_interrupt()``."""
    return _requested.is_set()


def check():
    """Raise KeyboardInterrupt if Ctrl-C was pressed inside the active ``stop_on_interrupt()``."""
    if _requested.is_set():
        raise KeyboardInterrupt


def _handle(signum, frame):
    if _requested.is_set():
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    _requested.set()


@contextlib.contextmanager
def stop_on_interrupt():
    """Record Ctrl-C instead of raising it (see module docstring); restore the old handler after.

    Outside the main thread (where signal handlers cannot be set) it changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _requested.clear()
    previous = signal.signal(signal.SIGINT, _handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _requested.clear()
