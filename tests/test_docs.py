"""The docs are self-contained: no help text, page, comment or document cites a SPEC that is
not in the repository, and every `docs/NAME.md` the code or the docs name exists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Applied migrations are never edited (their text is what the databases ran).
KEPT = ("tests/", "hubsense/db/migrations/")


def tracked_text_files() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    suffixes = {".py", ".md", ".html", ".js", ".yaml", ".yml", ".toml", ".json"}
    return [
        ROOT / name
        for name in names
        if name and Path(name).suffix in suffixes and not name.startswith(KEPT)
    ]


def test_nothing_cites_the_spec() -> None:
    cited = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in tracked_text_files()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if re.search(r"SPEC\s*§|SPEC\.md", line)
    ]
    assert cited == [], "\n".join(cited)


def test_every_named_doc_exists() -> None:
    named = {
        (path.relative_to(ROOT), name)
        for path in tracked_text_files()
        for name in re.findall(r"docs/([a-z-]+\.md)", path.read_text(errors="replace"))
    }
    missing = sorted(
        f"{path}: docs/{name}" for path, name in named if not (ROOT / "docs" / name).exists()
    )
    assert missing == [], "\n".join(missing)
