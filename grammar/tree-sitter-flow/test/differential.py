#!/usr/bin/env python3
"""Differential test: the grammar rejects nothing the compiler's parser accepts.

Makes random token edits (deletions, replacements, insertions; fixed seed) of the
files listed in a file, gives each edited program to `flowc check` and to
`tree-sitter parse`, and fails when the compiler reports no lexer or parser
diagnostic (E01xx, E02xx) while the tree has an ERROR or MISSING node. The other
way round is expected: the grammar is more lenient (README.md says where).

Usage: differential.py FLOWC GRAMMAR_DIR FILE_LIST [COUNT]
"""

import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

# Tokens inserted besides those of the program itself: brackets, separators,
# operators and keywords whose placement the grammar is most likely to get wrong.
EXTRA_TOKENS = [
    "(", ")", "{", "}", "[", "]", ",", ":", ".", "?", "?.", "=>", "->", "-", "|",
    "in", "as", "wait", "return", "if", "then", "else", "match", "_",
    '"x"', '"${a}"', "1", "1s", "x", "// c\n", "/* c */", "\n",
]
PARSE_ERROR = re.compile(r"\[E0[12][0-9][0-9]\]")
TOKEN = re.compile(r"\w+|[^\w\s]+")


def mutate(source: str, rng: random.Random) -> str:
    """One or two random token edits of `source`."""
    for _ in range(rng.randint(1, 2)):
        tokens = list(TOKEN.finditer(source))
        if not tokens:
            return source
        target = rng.choice(tokens)
        other = rng.choice(EXTRA_TOKENS) if rng.random() < 0.5 else rng.choice(tokens).group()
        roll = rng.random()
        if roll < 0.35:
            source = source[: target.start()] + source[target.end():]
        elif roll < 0.6:
            source = source[: target.start()] + other + source[target.end():]
        elif roll < 0.8:
            source = source[: target.start()] + other + " " + source[target.start():]
        else:
            source = source[: target.start()] + other + source[target.start():]
    return source


def main() -> int:
    if len(sys.argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    flowc, grammar, file_list = sys.argv[1], sys.argv[2], sys.argv[3]
    count = int(sys.argv[4]) if len(sys.argv) == 5 else 1000
    sources = [
        Path(line.strip()).read_text(encoding="utf-8", errors="replace")
        for line in Path(file_list).read_text().splitlines()
        if line.strip()
    ]
    rng = random.Random(20261122)
    with tempfile.TemporaryDirectory() as scratch:
        accepted = []
        for index in range(count):
            path = Path(scratch) / f"edit{index:05d}.flow"
            path.write_text(mutate(rng.choice(sources), rng), encoding="utf-8")
            check = subprocess.run(
                [flowc, "check", str(path)], capture_output=True, text=True, timeout=60
            )
            if not PARSE_ERROR.search(check.stdout + check.stderr):
                accepted.append(path)
        paths = Path(scratch) / "accepted.txt"
        paths.write_text("".join(f"{path}\n" for path in accepted))
        parse = subprocess.run(
            ["tree-sitter", "parse", "--quiet", "--grammar-path", grammar, "--paths", str(paths)],
            capture_output=True,
            text=True,
        )
        rejected = [line for line in parse.stdout.splitlines() if "ERROR" in line or "MISSING" in line]
        for line in rejected:
            file = line.split()[0]
            print(f"rejected but valid: {line}\n{Path(file).read_text()}\n", file=sys.stderr)
        print(f"{count} edits, {len(accepted)} valid for flowc, {len(rejected)} of those rejected here")
        return 1 if rejected or not accepted else 0


if __name__ == "__main__":
    sys.exit(main())
