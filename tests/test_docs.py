"""The front door holds together: README.md and docs/*.md link only to what exists, the README
stays short, and no command a user is told to type points at the project's private real data."""
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
README_MAX_LINES = 200
DOC_PAGES = ("data", "extract", "labels", "training", "scaling", "results", "research-log",
             "architecture")

# [text](target) outside inline code; images too.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
# Lines that are commands: inside a fenced block or an indented block, or a paragraph line or
# inline code span that starts with python / make / pip.
COMMAND_START = re.compile(r"^\s*(?:\$ )?(?:\.venv/bin/)?(python3?|make|pip)\b")
INLINE_CODE = re.compile(r"`([^`]+)`")


def page_id(page):
    return str(page.relative_to(REPO))


def anchors(page):
    """GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces to '-'."""
    found = set()
    for line in page.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^#{1,6}\s+(.*)", line)
        if heading:
            text = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower())
            found.add(text.replace(" ", "-"))
    return found


def prose_and_code(page):
    """(line number, line, in_code) for every line: fenced blocks, and indented blocks (four
    spaces after a blank line, as Markdown has them), are code."""
    fenced = indented = False
    previous_blank = True
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            previous_blank = False
            continue
        indented = line.startswith("    ") and (previous_blank or indented)
        yield number, line, fenced or indented
        previous_blank = not line.strip()


def commands(page):
    """The lines and inline code spans of a page a user would type (a span may wrap lines)."""
    prose = []
    for number, line, in_code in prose_and_code(page):
        if in_code:
            yield number, line
        else:
            if COMMAND_START.match(line):
                yield number, line
            prose.append((number, line))
    text = "\n".join(line for _, line in prose)
    for span in INLINE_CODE.finditer(text):
        if COMMAND_START.match(span.group(1)):
            yield prose[text.count("\n", 0, span.start())][0], span.group(1)


def test_the_docs_pages_exist():
    assert [page.stem for page in PAGES[1:]] and \
        set(DOC_PAGES) <= {page.stem for page in PAGES[1:]}


def test_the_readme_is_at_most_200_lines():
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_relative_link_resolves(page):
    broken = []
    for number, line, in_code in prose_and_code(page):
        if in_code:
            continue
        for target in LINK.findall(INLINE_CODE.sub("", line)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            if not resolved.exists():
                broken.append(f"{page_id(page)}:{number}: {target} (no such file)")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{page_id(page)}:{number}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_no_user_command_points_at_the_shared_real_data(page):
    # The tests and CI read ../shared; a user has their own data where dataset.download put it.
    private = [f"{page_id(page)}:{number}: {text.strip()}" for number, text in commands(page)
               if "../shared" in text or "/shared/data" in text]
    assert not private, "\n".join(private)


def test_the_command_detector_sees_commands():
    # A check that finds nothing proves nothing: the README's own commands are seen.
    seen = [text for _, text in commands(REPO / "README.md")]
    assert any(text.lstrip().startswith("make all") for text in seen)
    assert any("python train.py" in text for text in seen)
