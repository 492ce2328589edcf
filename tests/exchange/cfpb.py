"""Mapping the public CFPB complaints sample (../shared/data/cfpb_complaints_sample.csv, 6,623 US
consumer complaints, 2015-2020) onto the desk's import columns. The data is read where it lies and
never copied into the repository; every narrative goes in whole (the longest is 21,928 characters)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from shared.exchange.columns import COLUMNS

ROOT = Path(__file__).resolve().parents[2]
CFPB_SAMPLE = ROOT.parent / "shared" / "data" / "cfpb_complaints_sample.csv"

CHANNELS = {"Web": "web", "Phone": "phone", "Email": "email"}  # referral, post and fax: "import"
# The company's response read as the desk's result: relief granted in money satisfies the claim,
# other relief satisfies it in part, an explanation alone rejects it.
RESULTS = {
    "Closed with monetary relief": "satisfied",
    "Closed with non-monetary relief": "partially_satisfied",
    "Closed with explanation": "rejected",
    "Closed without relief": "rejected",
    "Closed": "rejected",
}


def cfpb_narratives(path: Path = CFPB_SAMPLE) -> dict[str, str]:
    """Complaint ID -> the consumer's narrative as the sample has it (stripped)."""
    with path.open(newline="", encoding="utf-8") as handle:
        return {r["Complaint ID"]: r["Consumer complaint narrative"].strip() for r in csv.DictReader(handle)}


def cfpb_row(source: dict[str, str]) -> dict[str, str]:
    response = source["Company response to consumer"]
    result = RESULTS.get(response)
    issue = " / ".join(p for p in (source["Issue"], source["Sub-issue"]) if p)
    narrative = source["Consumer complaint narrative"].strip()
    return {
        "number": f"CFPB-{source['Complaint ID']}",
        "registered_at": source["Date received"],  # a date: midnight in TIMEZONE
        "customer_name": f"Consumer {source['State'] or '??'} {source['ZIP code'] or ''}".strip(),
        "customer_phone": "",
        "customer_telegram_id": "",
        "channel": CHANNELS.get(source["Submitted via"], "import"),
        "subject": issue[:300],
        "description": narrative or f"{source['Product']}: {issue}",
        "requirement": "",
        "reason": source["Product"][:200],
        "culprit_department": source["Company"][:200],
        "culprit_employee": "",
        "responsible": "",
        "status": "closed" if result else "in_progress",
        "result": result or "",
        "resolution": source["Company public response"] if result else "",
        "resolved_at": source["Date sent to company"] if result else "",
        "closed_at": "",
        "amount_claimed": "",
        "amount_granted": "",
    }


def cfpb_as_claims_csv(path: Path = CFPB_SAMPLE, *, delimiter: str = ",") -> bytes:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [cfpb_row(r) for r in csv.DictReader(handle)]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), delimiter=delimiter)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")
