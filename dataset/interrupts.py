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

Every script (train, tune, evaluate, predict, preprocess, dataset.extract, dataset.download)
starts and ends the same way, so that a Ctrl-C at any moment from its first line on exits 130
with one line (before that, in the tens of milliseconds of Python's own start-up, it is Python's):

    from dataset import interrupts  # first, before the imports that take seconds

    interrupts.starting(__name__, "training")
    import torch ...

    if __name__ == "__main__":
        sys.exit(interrupts.run(main, "training"))

While the imports run nothing has been written, so a Ctrl-C then says so and ends the process
at once (an exception raised inside torch's or h5py's import prints a traceback, or worse). Once
``main()`` runs, Ctrl-C is KeyboardInterrupt as usual: main's own handling (or
``stop_on_interrupt()``) says what was kept, and ``run`` turns one that escapes main (during
argument parsing, in a script without its own handling) into one line. Files a user keeps go
through ``outputs.atomic_output``, so an interrupt never leaves one half-written. Once main has
returned, its work is done: a Ctrl-C while Python exits (joining threads, tearing down modules:
it can take a second) ends the process at once, killed by SIGINT (130 to a shell), as Python does
itself once its teardown has begun.
"""
import contextlib
import os
import signal
import sys
import threading

_requested = threading.Event()

# Where a script run by ``starting`` and ``run`` is; None when imported (tests call main(argv)).
STARTING, RUNNING, STOPPING, FINISHED = "starting", "running", "stopping", "finished"
_phase = None
_not_started = ""


def requested():
    """Whether Ctrl-C was pressed inside the active ``stop_on_interrupt()``."""
    return _requested.is_set()


def check():
    """Raise KeyboardInterrupt if Ctrl-C was pressed inside the active ``stop_on_interrupt()``."""
    if _requested.is_set():
        _stopping()
        raise KeyboardInterrupt


def _stopping():
    # A KeyboardInterrupt is on its way up: a further Ctrl-C during its handling ends at once.
    global _phase
    if _phase == RUNNING:
        _phase = STOPPING


def _end_at_once():
    """Die of SIGINT, as a process without a handler does: exit status 130 to a shell."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)


def _on_ctrl_c(signum, frame):
    """The script's SIGINT handler from its first line to its exit (see ``starting``)."""
    if _phase == STARTING:
        os.write(2, _not_started.encode())  # not sys.stderr: the press may land inside its write
        os._exit(130)
    elif _phase == RUNNING:
        _stopping()
        raise KeyboardInterrupt
    elif _phase == STOPPING:
        _end_at_once()
    elif _phase == FINISHED:  # main has returned, its files are whole: only the exit is left
        with contextlib.suppress(Exception):  # the press may land inside a write to them
            sys.stdout.flush()
            sys.stderr.flush()
        _end_at_once()


def starting(name, doing):
    """A script's first statement, before its slow imports: from here until ``run`` calls main,
    Ctrl-C writes "interrupted: DOING not started, nothing written" and exits 130 at once.

    Only when ``name`` (the caller's ``__name__``) is "__main__": imported (by tests, by another
    script, by a worker process as "__mp_main__") it changes nothing. An inherited ignored SIGINT
    (a shell's background job) stays ignored.
    """
    global _phase, _not_started
    if name != "__main__" or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return
    _not_started = f"interrupted: {doing} not started, nothing written\n"
    _phase = STARTING
    signal.signal(signal.SIGINT, _on_ctrl_c)


def run(main, doing):
    """``main()``'s exit status, with Ctrl-C as KeyboardInterrupt while it runs; one that main does
    not handle itself is "interrupted: DOING stopped" and 130. After main returns, Ctrl-C ends
    the process at once. For the ``if __name__ == "__main__"`` block, after ``starting``.
    """
    global _phase
    try:
        try:
            if _phase == STARTING:
                _phase = RUNNING
            return main()
        finally:
            if _phase is not None:
                _phase = FINISHED
    except KeyboardInterrupt:
        print(f"\ninterrupted: {doing} stopped", file=sys.stderr)
        return 130


def _handle(signum, frame):
    if _requested.is_set():
        _end_at_once()
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
