"""One-line descriptions of exceptions, for the one-line error messages users see."""


def first_line(err):
    """The first non-blank line of ``err``'s message, or its type's name when it has none."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__


def describe(err):
    """``Type: first line`` of ``err``; the type once when the message already starts with it."""
    text, name = first_line(err), type(err).__name__
    return text if text == name or text.startswith(name + ":") else f"{name}: {text}"
