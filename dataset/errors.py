"""The bad-input exception every dataset command raises, and one-line descriptions of
exceptions for the one-line error messages users see."""


class InputError(Exception):
    """Bad input to a command: a missing path, no song file, an unusable list, argument or
    output, a download that is corrupt, unsafe or not the file its target names, an optional
    package that is not installed, an unreachable scheduler."""


def first_line(err):
    """The first non-blank line of ``err``'s message, or its type's name when it has none."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__


def describe(err):
    """``Type: first line`` of ``err``; the type once when the message already starts with it."""
    text, name = first_line(err), type(err).__name__
    return text if text == name or text.startswith(name + ":") else f"{name}: {text}"
