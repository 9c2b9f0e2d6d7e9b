"""dataset/errors.py: the one-line descriptions behind every 'error: ...' message."""
from dataset.errors import describe, first_line


def test_first_line_skips_blank_lines_and_falls_back_to_the_type():
    assert first_line(ValueError("\n  bad value \nmore detail")) == "bad value"
    assert first_line(KeyError()) == "KeyError"


def test_describe_names_the_type_once():
    assert describe(OSError("disk full")) == "OSError: disk full"
    assert describe(ValueError("ValueError: twice")) == "ValueError: twice"
    assert describe(ValueError("ValueErrors are odd")) == "ValueError: ValueErrors are odd"
    assert describe(KeyError()) == "KeyError"
