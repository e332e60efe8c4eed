"""Idempotency-Key claims: which job an (owner, key) pair created, and when a claim is stale.

Enqueue claims the key for a new job id *before* it records the job, then confirms the claim
once the job is recorded, and only then sends the message. A claim that was never confirmed
(the process died between claiming and recording, or between recording and confirming)
would hold the key forever; so an unconfirmed claim is leased for `CLAIM_LEASE`, after
which another request with the same key may take it over. Taking over and confirming are
both conditional on the claim being unchanged (the store's ETag), so exactly one of them
wins: a taker after a confirm sees the confirmed claim, and a confirm after a takeover
reports that the claim was lost (that job is then never sent).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

# Far longer than claim -> record -> confirm takes (a few store round trips), short enough
# that a client retrying after a crash is not refused for long.
CLAIM_LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class KeyClaim:
    """The job an Idempotency-Key is claimed for.

    `confirmed`: the job was recorded; the claim holds for good. `lease_until`: when an
    unconfirmed claim may be taken over.
    """

    job_id: str
    confirmed: bool
    lease_until: datetime

    def is_abandoned(self, now: datetime) -> bool:
        """Unconfirmed and past its lease: another request may take the key over."""
        return not self.confirmed and now >= self.lease_until


def new_claim(job_id: str, now: datetime) -> KeyClaim:
    """A fresh, unconfirmed claim leased from `now`."""
    return KeyClaim(job_id, confirmed=False, lease_until=now + CLAIM_LEASE)
