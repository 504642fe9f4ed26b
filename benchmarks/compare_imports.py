"""Old and new importer on the same files: what they store and report must be byte for byte equal.

Usage: python benchmarks/compare_imports.py OLD_TREE NEW_TREE URL_OLD URL_NEW [ROWS]
(URLs of two empty databases, SQLite or PostgreSQL). For each tree it runs, through
import_once.py, a first load of a business-profile file, a changed file (cells changed and
emptied, statuses changed, new IDs, rows dropped) and the same changed file again; then it
compares the reports and warnings of each step, and the stored contacts (addresses, statuses,
attribute documents as stored), external IDs, rejections and status history, timestamps left out.
The file is over 8 MB by default, so that the row checker runs in its own process.
"""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from benchmarks.generate import BUSINESS, write  # noqa: E402

TABLES = {
    "contacts": "SELECT id, account_id, dedup_mode, email, address_key, status, "
                "CAST(attributes AS TEXT) FROM contacts ORDER BY id",
    "external_ids": "SELECT id, link_id, contact_id, value, merged FROM external_ids ORDER BY id",
    "import_rejections": "SELECT import_id, row, reason, detail, CAST(cells AS TEXT) "
                         "FROM import_rejections ORDER BY import_id, row",
    "contact_status_history": "SELECT contact_id, status_from, status_to, source, source_id, detail "
                              "FROM contact_status_history ORDER BY id",
}


def changed_copy(source: Path, target: Path, seed: int = 14) -> Path:
    """A re-export: some cells changed or emptied, statuses changed, rows dropped, new rows."""
    rng = random.Random(seed)
    with (source.open(newline="", encoding="utf-8") as inp,
          target.open("w", newline="", encoding="utf-8") as out):
        reader, writer = csv.reader(inp, delimiter=";"), csv.writer(out, delimiter=";")
        writer.writerow(next(reader))
        for number, row in enumerate(reader):
            roll = rng.random()
            if roll < 0.02:
                continue
            if roll < 0.10:
                row[rng.randrange(2, len(row))] = rng.choice(("", "Anders", "12-12-1990", "x"))
            elif roll < 0.13:
                row[8] = rng.choice(("Active", "Unsubscribed", "Bounced", "weg"))
            writer.writerow(row)
            if roll > 0.99:
                writer.writerow([f"N{number:08d}", f"nieuw{number}@voorbeeld.nl", *row[2:]])
    return target


def run(tree: Path, url: str, path: Path, again: bool) -> dict:
    command = [sys.executable, str(HERE / "import_once.py"), url, "business", str(path)]
    done = subprocess.run(command + (["--again"] if again else []), cwd=tree, check=True,
                          capture_output=True, text=True)
    result = json.loads(done.stdout.splitlines()[-1])
    return {"report": result["report"], "warnings": result["warnings"]}


def stored(url: str) -> dict:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = {name: [list(map(str, row)) for row in conn.execute(text(sql))]
                 for name, sql in TABLES.items()}
    engine.dispose()
    return found


def main() -> None:
    old, new, url_old, url_new = map(str, sys.argv[1:5])
    rows = int(sys.argv[5]) if len(sys.argv) > 5 else 100_000
    data = HERE / "data"
    first = write(data / f"compare-business-{rows}.csv", rows, BUSINESS)
    changed = changed_copy(first, data / f"compare-business-{rows}-changed.csv")
    steps = [(first, False), (changed, True), (changed, True)]
    outcomes = {tree: [run(Path(tree), url, path, again) for path, again in steps]
                for tree, url in ((old, url_old), (new, url_new))}
    same = True
    for step, (a, b) in enumerate(zip(outcomes[old], outcomes[new], strict=True), 1):
        print(f"step {step}: report {'same' if a == b else 'DIFFERENT'}: {b['report']}")
        same &= a == b
    old_rows, new_rows = stored(url_old), stored(url_new)
    for name in TABLES:
        equal = old_rows[name] == new_rows[name]
        print(f"{name}: {len(new_rows[name])} rows, {'same' if equal else 'DIFFERENT'}")
        same &= equal
    print("SAME" if same else "DIFFERENT")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
