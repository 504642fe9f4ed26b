"""Make the benchmark contacts file: a fixed seed, so every run measures the same data.

About 15% of rows share an address with 1-3 other rows (case and white-space variants), 1% have
an invalid address, and each row has a customer number (external ID) and 7 mapped fields.
Usage: python -m benchmarks.generate [ROWS] [PATH]
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

HEADER = ["KlantNr", "E-mail", "Voornaam", "Achternaam", "Plaats", "Geboortedatum", "Punten",
          "Nieuwsbrief", "Segment"]
MAPPING = {"E-mail": "email", "Voornaam": "first_name", "Achternaam": "last_name", "Plaats": "city",
           "Geboortedatum": "birth_date", "Punten": "points", "Nieuwsbrief": "newsletter",
           "Segment": "segment"}
FIELDS = {"first_name": "text", "last_name": "text", "city": "text", "birth_date": "date",
          "points": "number", "newsletter": "boolean", "segment": "text"}
FIRST = ["Sanne", "Daan", "Emma", "Lucas", "Julia", "Sem", "Tess", "Finn", "Noor", "Levi", "Mila", "Jan"]
LAST = ["de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "de Boer", "Bos", "Vos"]
CITIES = ["Amsterdam", "Rotterdam", "Utrecht", "Den Haag", "Eindhoven", "Groningen", "Tilburg"]
DOMAINS = ["gmail.com", "hotmail.com", "outlook.com", "ziggo.nl", "kpnmail.nl", "live.nl"] + [
    f"company{i}.nl" for i in range(2000)]
SEED = 20261127


def rows(count: int, seed: int = SEED):
    """Yield `count` data rows."""
    rng = random.Random(seed)
    produced = 0
    number = 100000
    while produced < count:
        # 15% of rows are in groups of 2-4 sharing an address; the rest stand alone.
        group = rng.choice((2, 3, 4)) if rng.random() < 0.15 / 3 * 1.1 else 1
        local = f"{rng.choice(FIRST).lower()}.{number}"
        domain = rng.choice(DOMAINS)
        for member in range(min(group, count - produced)):
            number += 1
            address = f"{local}@{domain}"
            if member:
                address = _variant(rng, address)
            if rng.random() < 0.01:
                address = address.replace("@", "@@")
            yield [
                str(number), address, rng.choice(FIRST), rng.choice(LAST), rng.choice(CITIES),
                f"{rng.randint(1, 28):02d}-{rng.randint(1, 12):02d}-{rng.randint(1940, 2006)}",
                str(rng.randint(0, 5000)), rng.choice(("ja", "nee")), f"S{rng.randint(1, 40)}",
            ]
            produced += 1


def _variant(rng: random.Random, address: str) -> str:
    choice = rng.random()
    if choice < 0.4:
        return address.upper()
    if choice < 0.7:
        return f"  {address} "
    return address[0].upper() + address[1:]


def write(path: Path, count: int) -> Path:
    """Write the file once; an existing file of the same size request is reused."""
    path.parent.mkdir(parents=True, exist_ok=True)
    marker = path.with_suffix(".rows")
    if path.exists() and marker.exists() and marker.read_text() == str(count):
        return path
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(HEADER)
        writer.writerows(rows(count))
    marker.write_text(str(count))
    return path


if __name__ == "__main__":
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("benchmarks/data/contacts-1m.csv")
    print(write(target, total))
