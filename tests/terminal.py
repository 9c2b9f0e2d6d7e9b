"""Runs under test started as a terminal starts a foreground job, for the tests that press Ctrl-C.

Usage:
    process = terminal.foreground_job([sys.executable, "train.py", ...], stdout=PIPE, ...)
"""
import signal
import subprocess


def foreground_job(command, **popen_arguments):
    """``subprocess.Popen(command, start_new_session=True, ...)`` with SIGINT at its default, as
    a terminal's foreground job has it. A test run that is itself a script's background job (a
    CI runner's, ``cmd &``) inherits SIGINT ignored, and Python keeps an inherited ignored
    SIGINT ignored, so a press before the run installs its own handler would be lost."""
    inherited = signal.getsignal(signal.SIGINT)
    if inherited is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # what the child inherits at its fork
    try:
        return subprocess.Popen(command, start_new_session=True, **popen_arguments)
    finally:
        if inherited is signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
