"""The style sheets: one per concern, no rule defined twice (issue 15).

A selector defined in two places (two files, or twice in one) makes whichever loads last win,
which is how the schema page's Delete button became red on red. Every selector appears once
per media context across `static/css/*.css` (vendored style sheets aside).
"""

import re
from collections import defaultdict
from pathlib import Path

CSS = Path(__file__).resolve().parent.parent / "static" / "css"


def selectors(text: str) -> list[tuple[str, str]]:
    """(media context, selector) of every style rule, at-rules' contents included."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    found, stack, head = [], [], ""
    for char in text:
        if char == "{":
            stack.append(head.strip())
            if not head.strip().startswith("@") and not any(
                h.startswith("@keyframes") for h in stack[:-1]
            ):
                context = " ".join(h for h in stack[:-1] if h.startswith("@"))
                found += [(context, " ".join(s.split())) for s in head.split(",")]
            head = ""
        elif char == "}":
            if stack:
                stack.pop()
            head = ""
        elif char == ";":
            head = ""
        else:
            head += char
    return found


def test_no_rule_is_defined_twice():
    where = defaultdict(list)
    for path in sorted(CSS.glob("*.css")):
        for context, selector in selectors(path.read_text()):
            where[(context, selector)].append(path.name)
    twice = {key: files for key, files in where.items() if len(files) > 1}
    assert twice == {}


def test_the_check_finds_a_rule_defined_twice():
    text = (
        ".a { color: red; }\n@media (max-width: 700px) { .a { color: blue; } }\n.a { margin: 0; }"
    )
    found = selectors(text)
    assert found.count(("", ".a")) == 2
    assert found.count(("@media (max-width: 700px)", ".a")) == 1
