"""schemathesis hooks for the Rialto run (loaded through SCHEMATHESIS_HOOKS by schemathesis.sh).

Every well-formed Idempotency-Key schemathesis generates is replaced by a fresh one: it draws
keys from a small pool, and a key sent again with another body is refused by design (422
idempotency_key_reused, DESIGN.md §5), which would fail the positive-data check on every
POST. Malformed keys are left alone, so the negative cases still test the refusal.
"""
import re
import uuid

import schemathesis

WELL_FORMED = re.compile(r"^[!-~]{1,255}$")


@schemathesis.hook
def before_call(context, case, **kwargs):
    headers = case.headers or {}
    key = headers.get("Idempotency-Key")
    if isinstance(key, str) and WELL_FORMED.match(key):
        headers["Idempotency-Key"] = uuid.uuid4().hex
        case.headers = headers
