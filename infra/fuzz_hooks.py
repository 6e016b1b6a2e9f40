"""Schemathesis hooks for infra/fuzz-api: credentials, and the server state no schema can say.

Credentials come from the environment infra/fuzz-api sets: bearer keys for the campus and audit
routes, and for intake a Greenloop-Signature v2 over the request exactly as sent (the string to
sign is in shared/src/http/signature.rs and the README). Signing is a `requests` auth, applied
to the prepared request, so it covers the final path, query and body bytes. Schemathesis drops
it from the probes of its `ignored_auth` check, which must then be refused.

A positive case must be accepted, but whether an action is accepted also depends on things JSON
Schema cannot express: the clock (intake takes actions dated within the grace, 48 h) and the
registry (an integration records only at its own stations). For positive intake cases only,
`map_case` dates the action a little before now and picks one of the integration's stations,
and a positive campus transfer names a registered campus; a positive disposition report becomes
outgoing parcels none of which took a box from stock (the mass balance depends on what the
fuzzed scans collected); every other generated value is kept.
Negative cases are sent as generated.
"""

import hashlib
import hmac
import os
import random
import time
from urllib.parse import urlsplit

import requests
import schemathesis
from schemathesis.core.parameters import ParameterLocation

SECRET = os.environ["FUZZ_WEBHOOK_SECRET"].encode()
KEY_ID = os.environ["FUZZ_WEBHOOK_KEY_ID"]
STATIONS = os.environ["FUZZ_STATIONS"].split(",")
PORTAL_KEY = os.environ["FUZZ_PORTAL_KEY"]
AUDITOR_KEY = os.environ["FUZZ_AUDITOR_KEY"]

INTAKE = {"/v1/scans", "/v1/pledges", "/v1/appointments", "/v1/appointments/{id}/complete"}
# A station's disposition report: signed like intake.
DISPOSITION = "/v1/disposition"
# Signed like intake: a member's own choice of campus, sent by their integration.
TRANSFER = "/v1/members/{user}/campus"
# Signed like intake: erasure of a person the integration brought.
ERASURE = "/v1/members/{user}/erasure"
CAMPUSES = os.environ["FUZZ_CAMPUSES"].split(",")
# JSON Schema has no sums: the boxes of all a scan's lots are at most 1000 together.
MAX_BOXES = 1000


class Signed(requests.auth.AuthBase):
    """Greenloop-Signature v2 over the prepared request: method, path and query as sent, key
    id, time and the body bytes."""

    def __call__(self, r):
        url = urlsplit(r.url)
        body = r.body or b""
        if isinstance(body, str):
            body = body.encode()
        t = str(int(time.time()))
        parts = [b"greenloop-v2", r.method.encode(), url.path.encode(), url.query.encode()]
        parts += [KEY_ID.encode(), t.encode(), body]
        mac = hmac.new(SECRET, b"\n".join(parts), hashlib.sha256).hexdigest()
        r.headers["Greenloop-Key-Id"] = KEY_ID
        r.headers["Greenloop-Signature"] = f"t={t},v2={mac}"
        return r


def negates_signature(case):
    """A negative case whose headers were generated invalid: on intake, its only header
    parameters are the signature's two, so it must go out as generated, unsigned."""
    return case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER)


# No caching: the credential depends on the operation.
@schemathesis.auth(refresh_interval=None)
class Greenloop:
    def get(self, case, ctx):
        path = ctx.operation.path
        if path.startswith("/v1/audit/") or path.startswith("/v1/brands/"):
            return ("bearer", AUDITOR_KEY)
        if path.startswith("/v1/campuses/{campus}"):
            return ("bearer", PORTAL_KEY)
        if path.startswith("/v1/actions/") or path in INTAKE or path in (TRANSFER, DISPOSITION, ERASURE):
            return None if negates_signature(case) else ("signed", None)
        return None

    def set(self, case, data, ctx):
        kind, key = data
        if kind == "bearer":
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {key}"}
        else:
            case._auth = Signed()


@schemathesis.hook
def map_case(context, case):
    meta = case.meta
    if (
        case.operation.path == DISPOSITION
        and meta is not None
        and meta.generation.mode.is_positive
        and isinstance(case.body, dict)
    ):
        # The mass balance depends on what the fuzzed scans left in a station's stock, which no
        # schema says: a positive report is one that needs none, outgoing parcels of which none
        # went in a recycled box, under a fresh id, at one of the integration's stations.
        report = case.body.get("report")
        parcels = report.get("parcels", 1) if isinstance(report, dict) else 1
        case.body = {
            **case.body,
            "report_id": f"fz-{random.getrandbits(48):012x}",
            "station": random.choice(STATIONS),
            "at": int(time.time()) - random.randint(0, 3600),
            "report": {"kind": "outgoing", "parcels": max(1, parcels), "reused_boxes": 0},
        }
        return case
    if (
        case.operation.path == TRANSFER
        and meta is not None
        and meta.generation.mode.is_positive
        and isinstance(case.body, dict)
    ):
        # The registry: a campus that exists, so a move is tried, not only refused.
        case.body = {**case.body, "campus": random.choice(CAMPUSES)}
        return case
    if (
        case.operation.path not in INTAKE
        or meta is None
        or not meta.generation.mode.is_positive
        or not isinstance(case.body, dict)
    ):
        return case
    body = dict(case.body)
    # The clock: within the rehearsal window and the grace.
    body["at"] = int(time.time()) - random.randint(0, 3600)
    if "station" in body:
        body["station"] = random.choice(STATIONS)
    items = body.get("items")
    if isinstance(items, dict) and isinstance(items.get("boxes"), list):
        # Every lot keeps at least one box; the rest of the budget goes in order.
        budget = MAX_BOXES - len(items["boxes"])
        lots = []
        for lot in items["boxes"]:
            extra = min(lot["count"] - 1, budget)
            budget -= extra
            lots.append({**lot, "count": 1 + extra})
        body["items"] = {**items, "boxes": lots}
    case.body = body
    return case
