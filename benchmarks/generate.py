"""Make the benchmark contacts files: a fixed seed, so every run measures the same data.

Two profiles. `current` (the file of issue 2): 2,006 domains, numeric customer numbers, one date
column. `business` (issue 14), what a CRM exports: a long tail of company domains (about 40,000
in 500,000 rows), customer numbers such as C00000001, a birth date day-first, a `Klant sinds`
date in ISO, a status column and some empty cells. In both, about 15% of rows share an address
with 1-3 other rows (case and white-space variants) and 1% have an invalid address.
Usage: python -m benchmarks.generate [ROWS] [PATH] [PROFILE]
"""

from __future__ import annotations

import csv
import random
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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


def rows(count: int, seed: int = SEED) -> Iterator[list[str]]:
    """Yield `count` data rows of the current profile."""
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


# --- the business-list profile (issue 14) ----------------------------------------------------------

BUSINESS_HEADER = ["Klantnummer", "E-mailadres", "Voornaam", "Achternaam", "Bedrijf", "Plaats",
                   "Geboortedatum", "Klant sinds", "Status", "Omzet", "Nieuwsbrief"]
BUSINESS_MAPPING = {"E-mailadres": "email", "Voornaam": "first_name", "Achternaam": "last_name",
                    "Bedrijf": "company", "Plaats": "city", "Geboortedatum": "birth_date",
                    "Klant sinds": "customer_since", "Status": "status", "Omzet": "revenue",
                    "Nieuwsbrief": "newsletter"}
BUSINESS_FIELDS = {"first_name": "text", "last_name": "text", "company": "text", "city": "text",
                   "birth_date": "date", "customer_since": "date", "revenue": "number",
                   "newsletter": "boolean"}
# Private addresses: the big providers take about half of the rows.
PROVIDERS = ["gmail.com", "hotmail.com", "outlook.com", "ziggo.nl", "kpnmail.nl", "live.nl",
             "hotmail.nl", "yahoo.com", "icloud.com", "xs4all.nl", "planet.nl", "home.nl",
             "telfort.nl", "upcmail.nl", "casema.nl", "hetnet.nl", "msn.com", "live.com",
             "gmx.de", "skynet.be", "telenet.be", "quicknet.nl", "online.nl", "me.com"]
PROVIDER_SHARE = 0.5
# Drawn with weights: gmail.com and hotmail.com hold far more inboxes than skynet.be.
PROVIDER_DRAW = PROVIDERS[:6] * 3 + PROVIDERS[:2] * 5 + PROVIDERS
# Company domains: a pool of 0.09 per row, drawn with density ~ 1/index^(2/3), so that a few
# companies hold many contacts and most hold one or two (about 40,000 domains in 500,000 rows).
POOL_PER_ROW = 0.09
SKEW = 3
WORDS = ["bouw", "tech", "groep", "installatie", "bakkerij", "advies", "logistiek", "zorg",
         "media", "design", "holland", "noord", "zuid", "west", "oost", "data", "solar", "auto",
         "transport", "makelaars", "notaris", "accountants", "dental", "fysio", "kinderopvang",
         "hoveniers", "schilders", "elektro", "metaal", "hout", "print", "reclame", "events",
         "catering", "software", "consult", "partners", "vastgoed", "energie", "water", "agro",
         "flora", "bike", "sport", "fashion", "interieur", "keukens", "dakwerken", "glas", "verf"]
PLACES = ["amsterdam", "rotterdam", "utrecht", "denhaag", "eindhoven", "groningen", "tilburg",
          "almere", "breda", "nijmegen", "apeldoorn", "haarlem", "arnhem", "enschede", "zwolle",
          "leiden", "maastricht", "delft", "gouda", "venlo", "brabant", "twente", "veluwe"]
TLDS = ["nl"] * 12 + ["com"] * 4 + ["eu", "be", "de", "org", "net", "nu", "io", "co.uk", "biz"]
COMPANY_FORMS = ["", "", " B.V.", " BV", " Holding", " & Zn.", " VOF"]
STATUSES = ["Active"] * 93 + ["Unsubscribed"] * 4 + ["Bounced"] * 2 + [""]
BUSINESS_CITIES = CITIES + ["Almere", "Breda", "Nijmegen", "Haarlem", "Arnhem", "Zwolle", "Leiden",
                            "Maastricht", "Delft", "'s-Hertogenbosch", "Enschede", "Apeldoorn"]


def _company_pool(size: int, rng: random.Random) -> list[tuple[str, str]]:
    """`size` distinct (domain, company name) pairs of varied length and top-level domain."""
    pool: list[tuple[str, str]] = []
    seen: set[str] = set()
    while len(pool) < size:
        shape = rng.random()
        first, second = rng.choice(WORDS), rng.choice(WORDS + PLACES)
        if shape < 0.3:
            name = f"{first}{second}"
        elif shape < 0.5:
            name = f"{first}-{second}"
        elif shape < 0.7:
            name = f"{rng.choice(LAST).replace(' ', '').lower()}{first}"
        elif shape < 0.85:
            name = f"{first}{second}{rng.randint(1, 999)}"
        else:
            name = f"{rng.choice(PLACES)}-{first}-{second}"
        domain = f"{name}.{rng.choice(TLDS)}"
        if shape > 0.97:
            domain = f"mail.{domain}"  # some companies send from a subdomain
        if domain in seen:
            continue
        seen.add(domain)
        company = name.replace("-", " ").title() + rng.choice(COMPANY_FORMS)
        pool.append((domain, company))
    return pool


def business_rows(count: int, seed: int = SEED) -> Iterator[list[str]]:
    """Yield `count` data rows of the business-list profile."""
    rng = random.Random(seed)
    pool = _company_pool(max(1, int(count * POOL_PER_ROW)), random.Random(seed + 1))
    produced = 0
    number = 0
    while produced < count:
        group = rng.choice((2, 3, 4)) if rng.random() < 0.15 / 3 * 1.1 else 1
        first, last = rng.choice(FIRST), rng.choice(LAST)
        compact = last.replace(" ", "").lower()
        if rng.random() < PROVIDER_SHARE:
            domain, company = rng.choice(PROVIDER_DRAW), ""
            local = f"{first.lower()}{rng.choice(('.', '_', ''))}{compact}{number % 997}"
        else:
            domain, company = pool[int(len(pool) * rng.random() ** SKEW)]
            shape = rng.random()
            local = (f"{first.lower()}.{compact}" if shape < 0.5 else
                     f"{first[0].lower()}.{compact}" if shape < 0.8 else f"{first.lower()}")
            local = f"{local}{number % 89 or ''}"
        for member in range(min(group, count - produced)):
            number += 1
            address = f"{local}@{domain}"
            if member:
                address = _variant(rng, address)
            if rng.random() < 0.01:
                address = address.replace("@", "@@") if rng.random() < 0.6 else address.replace(".", "..", 1)
            birth = (f"{rng.randint(1, 28):02d}-{rng.randint(1, 12):02d}-{rng.randint(1940, 2006)}"
                     if rng.random() < 0.7 else "")
            since = f"{rng.randint(2001, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            revenue = f"{rng.randint(0, 250000) / 100:.2f}".replace(".", ",") if rng.random() < 0.8 else ""
            yield [
                f"C{number:08d}", address, first, last, company, rng.choice(BUSINESS_CITIES),
                birth, since, rng.choice(STATUSES), revenue, rng.choice(("ja", "nee", "")),
            ]
            produced += 1


# --- profiles and files ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """One kind of benchmark file: its columns, how they map to the account's fields, its rows."""

    name: str
    header: list[str]
    mapping: dict[str, str]
    fields: dict[str, str]
    id_column: str
    rows: Callable[[int], Iterator[list[str]]]
    stem: str  # file names: {stem}-{rows}.csv

    def path(self, directory: Path, count: int) -> Path:
        return directory / f"{self.stem}-{count}.csv"


CURRENT = Profile("current", HEADER, MAPPING, FIELDS, "KlantNr", rows, "contacts")
BUSINESS = Profile("business", BUSINESS_HEADER, BUSINESS_MAPPING, BUSINESS_FIELDS, "Klantnummer",
                   business_rows, "business")
PROFILES = {profile.name: profile for profile in (CURRENT, BUSINESS)}


def write(path: Path, count: int, profile: Profile = CURRENT) -> Path:
    """Write the file once; an existing file of the same size request is reused."""
    path.parent.mkdir(parents=True, exist_ok=True)
    marker = path.with_suffix(".rows")
    if path.exists() and marker.exists() and marker.read_text() == str(count):
        return path
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(profile.header)
        writer.writerows(profile.rows(count))
    marker.write_text(str(count))
    return path


if __name__ == "__main__":
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    chosen = PROFILES[sys.argv[3] if len(sys.argv) > 3 else "current"]
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else chosen.path(Path("benchmarks/data"), total)
    print(write(target, total, chosen))
