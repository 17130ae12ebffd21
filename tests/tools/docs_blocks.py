#!/usr/bin/python3
"""docs_blocks: the command and config examples of the documentation, and what runs them.

Every example block a reader may copy — a fenced ```sh, ```bash, ```sql or ```conf block in a
Markdown file, an .nf ... .fi block in a man page — carries a marker just before it:

    <!-- block: ID; run by tests/integration/NAME.sh -->        (Markdown)
    <!-- block: ID; not run: REASON -->
    .\\" block: ID; run by tests/integration/NAME.sh            (man page, the line before .nf)

"run by T" promises that T takes the block's text from here (`docs_blocks.py get FILE ID`,
naming the ID in T) and runs or loads it; "not run" says why it cannot run in a test.

  docs_blocks.py check FILE...   every block has a marker with a unique ID, every "run by"
                                 test exists and names the ID; exit 1 listing what is wrong
  docs_blocks.py get FILE ID     prints the block's text (exit 1 if there is none)
  docs_blocks.py list FILE...    FILE ID MARKER, one block a line
"""
import os
import re
import sys

FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
MD_MARK = re.compile(r"^\s*<!--\s*block:\s*([\w.-]+)\s*;\s*(.*?)\s*-->\s*$")
MAN_MARK = re.compile(r'^\.\\"\s*block:\s*([\w.-]+)\s*;\s*(.*?)\s*$')
EXAMPLE_LANGS = {"sh", "bash", "sql", "conf"}


def blocks(path):
    """Yields (line, id or None, marker or None, text) for each example block of path."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    man = not path.endswith(".md")
    i = 0
    while i < len(lines):
        line = lines[i]
        prev = lines[i - 1] if i > 0 else ""
        if man and line == ".nf":
            end = lines.index(".fi", i)
            text = "\n".join(unroff(x) for x in lines[i + 1:end]) + "\n"
            m = MAN_MARK.match(prev)
            yield (i + 1, m and m.group(1), m and m.group(2), text)
            i = end + 1
            continue
        f = None if man else FENCE.match(line)
        if f and f.group(2):
            indent = f.group(1)
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip().startswith("```"))
            if f.group(2) in EXAMPLE_LANGS:
                m = MD_MARK.match(prev)
                # A block inside a list item is indented; the reader copies it without.
                body = [x[len(indent):] if x.startswith(indent) else x for x in lines[i + 1:end]]
                yield (i + 1, m and m.group(1), m and m.group(2), "\n".join(body) + "\n")
            i = end + 1
            continue
        i += 1


def unroff(line):
    """A man page's example line as a reader sees it."""
    return line.replace("\\-", "-").replace("\\e", "\\")


def check(paths, root):
    problems = []
    for path in paths:
        seen = set()
        for line, ident, marker, _ in blocks(path):
            where = f"{os.path.relpath(path, root)}:{line}"
            if not ident:
                problems.append(f"{where}: example block without a 'block: ID; run by|not run' marker")
                continue
            if ident in seen:
                problems.append(f"{where}: block ID '{ident}' used twice")
            seen.add(ident)
            run = re.fullmatch(r"run by (\S+)", marker)
            if run:
                test = os.path.join(root, run.group(1))
                if not os.path.isfile(test):
                    problems.append(f"{where}: '{ident}' is run by {run.group(1)}, which does not exist")
                elif not re.search(r"\b" + re.escape(ident) + r"\b", open(test, encoding="utf-8").read()):
                    problems.append(f"{where}: {run.group(1)} does not take block '{ident}'")
            elif not re.fullmatch(r"not run: \S.*", marker):
                problems.append(f"{where}: marker of '{ident}' is neither 'run by TEST' nor 'not run: REASON'")
    for p in problems:
        print(p)
    return 1 if problems else 0


def main(argv):
    root = os.environ.get("PX_SOURCE_DIR", os.getcwd())
    if len(argv) >= 3 and argv[1] == "check":
        return check(argv[2:], root)
    if len(argv) >= 3 and argv[1] == "list":
        for path in argv[2:]:
            for line, ident, marker, _ in blocks(path):
                print(f"{path}:{line} {ident or '-'} {marker or '-'}")
        return 0
    if len(argv) == 4 and argv[1] == "get":
        for _, ident, _, text in blocks(argv[2]):
            if ident == argv[3]:
                sys.stdout.write(text)
                return 0
        print(f"docs_blocks: no block '{argv[3]}' in {argv[2]}", file=sys.stderr)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
