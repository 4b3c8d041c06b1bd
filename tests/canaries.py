"""Canaries: unique personal-looking values planted in an inbox, and a search for them in every file.

A canary found anywhere outside the inbox and the key store is a leak. Parquet files are searched
after decoding (their pages may be compressed), everything else byte-wise in UTF-8.
"""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl

from schemas.contract import ENTITIES


def valid_egn(prefix9: str) -> str:
    """Return the ЕГН with the given first nine digits and its check digit."""
    weights = (2, 4, 8, 5, 10, 9, 7, 3, 6)
    return prefix9 + str(sum(int(d) * w for d, w in zip(prefix9, weights, strict=True)) % 11 % 10)


EGN = valid_egn("184723071")  # born 2018-07-23 (+40 on the month), 9th digit odd: a girl
CANARIES = {
    "given_name": "Канарийка",
    "family_name": "Зюмбюлеврунова",
    "national_id": EGN,
    "phone": "+359 89 717 2931",
    "phone_digits": "897172931",
    "email": "kanariyka.zqx@example.invalid",
    "address": "с. Канарчево, ул. „Зюмбюлева“ № 99",
    "note": "Канарчето пее в полунощ над Зюмбюлевата река",
    "person_id": "CANARY-PID-7731",
    "case_note": "Семейство Зюмбюлеврунови получи подкрепа",
}


def _append(path: Path, row: dict[str, str], entity: str) -> None:
    with open(path, "a", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerow([row.get(c, "") for c in ENTITIES[entity].columns])


def plant(batch: Path) -> dict[str, str]:
    """Add a canary child with a family, a case and events to a batch folder; return the canaries."""
    c = CANARIES
    _append(
        batch / "persons.csv",
        {
            "person_id": c["person_id"],
            "role": "child",
            "given_name": c["given_name"],
            "middle_name": "Иванова",
            "family_name": c["family_name"],
            "national_id": c["national_id"],
            "national_id_type": "egn",
            "birth_date": "2018-07-23",
            "sex": "f",
            "citizenship": "bg",
            "settlement_code": "56784",
            "address": c["address"],
            "phone": c["phone"],
            "email": c["email"],
            "disability": "no",
            "minority": "no",
            "homeless": "no",
            "labour_status": "child",
            "notes": c["note"],
        },
        "persons",
    )
    _append(
        batch / "memberships.csv",
        {"family_id": "CANARY-FAM-1", "person_id": c["person_id"], "relation": "child"},
        "memberships",
    )
    if (batch / "cases.csv").exists():
        _append(
            batch / "cases.csv",
            {
                "case_id": "CANARY-CASE-1",
                "family_id": "CANARY-FAM-1",
                "child_person_id": c["person_id"],
                "case_type": "child_at_risk",
                "referral_source": "school",
                "opened": "2025-02-01",
                "outcome": "open",
                "worker_id": "W-CANARY",
                "notes": c["case_note"],
            },
            "cases",
        )
    for i, day in enumerate(("2025-02-03", "2025-03-04", "2025-06-05")):
        _append(
            batch / "events.csv",
            {
                "event_id": f"CANARY-EV-{i}",
                "person_id": c["person_id"],
                "date": day,
                "service_code": "speech_screening",
                "modality": "centre",
                "setting": "individual",
                "duration_min": "45",
                "specialist_role": "speech_therapist",
                "notes": f"{c['given_name']} дойде с майка си, тел. {c['phone']}",
            },
            "events",
        )
    return dict(c)


def needles() -> list[str]:
    """Return the strings whose presence in a file is a leak."""
    return [v for k, v in CANARIES.items() if k != "person_id"] + [
        "CANARY-PID",
        "CANARY-FAM",
        "CANARY-CASE",
        "CANARY-EV",
        "W-CANARY",
    ]


def find_leaks(roots: list[Path], exclude: list[Path], needles_: list[str] | None = None) -> list[str]:
    """Return ``file: needle`` for every canary found under ``roots``, outside ``exclude``.

    Inbox folders and truth files are where personal data is allowed, so they are never searched.
    """
    hits: list[str] = []
    excluded = [e.resolve() for e in exclude]
    for root in roots:
        for path in Path(root).rglob("*"):
            if not path.is_file() or any(path.resolve().is_relative_to(e) for e in excluded):
                continue
            if "inbox" in path.relative_to(root).parts or path.name.endswith(".truth.json"):
                continue
            data = path.read_bytes()
            texts = [data]
            if path.suffix == ".parquet":
                frame = pl.read_parquet(path)
                texts.append(frame.write_csv().encode("utf-8") + ",".join(frame.columns).encode("utf-8"))
            for needle in needles_ if needles_ is not None else needles():
                if any(needle.encode("utf-8") in t for t in texts):
                    hits.append(f"{path}: {needle}")
    return hits
