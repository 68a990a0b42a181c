"""Every relative link in the docs resolves: to a file of the repository, and to a heading of that
file when it names one (GitHub's anchors: lower case, punctuation dropped, spaces to hyphens)."""

import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = ["README.md", "ARCHITECTURE.md", "CONTRIBUTING.md", "CHANGELOG.md"] + sorted(
    os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True)
)


def without_code(text):
    return re.sub(r"```.*?```", "", text, flags=re.S)


def anchors(path):
    """The anchors GitHub gives a Markdown file's headings."""
    found = set()
    for line in without_code(open(path, encoding="utf-8").read()).splitlines():
        m = re.match(r"^#+\s+(.*)$", line)
        if m:
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            found.add(slug)
    return found


def links(path):
    text = without_code(open(path, encoding="utf-8").read())
    text = re.sub(r"`[^`]*`", "", text)
    return re.findall(r"\]\(([^)\s]+)\)", text)


@pytest.mark.parametrize("doc", DOCS)
def test_every_relative_link_resolves(doc):
    path = os.path.join(ROOT, doc)
    assert os.path.exists(path), doc
    broken = []
    for target in links(path):
        if re.match(r"^[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        resolved = os.path.normpath(os.path.join(os.path.dirname(path), file)) if file else path
        if not os.path.exists(resolved):
            broken.append(f"{target}: no such file")
        elif anchor and resolved.endswith(".md") and anchor not in anchors(resolved):
            broken.append(f"{target}: no such heading")
    assert not broken, broken


def test_the_readme_stays_a_first_look():
    lines = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read().count("\n")
    assert lines <= 250, f"README.md has {lines} lines: move detail into docs/"


def test_a_link_checker_that_can_fail(tmp_path):
    bad = tmp_path / "x.md"
    bad.write_text("# Title\n[a](missing.md) [b](#nowhere) [c](#title)\n")
    assert links(str(bad)) == ["missing.md", "#nowhere", "#title"]
    assert anchors(str(bad)) == {"title"}
