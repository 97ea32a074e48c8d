"""Outbound campaigns: dial a leads file, screen for answering machines, tier every lead.

* :mod:`.leads` — the leads CSV, checked (malformed and duplicate numbers accounted for);
* :mod:`.policy` — calling hours per time zone, the retry policy;
* :mod:`.store` — campaign state in a database (at-most-once dialling across restarts);
* :mod:`.runner` — concurrency, pacing, the do-not-call gate before every dial, retries;
* :mod:`.screening` — answering-machine detection on an answered call, voicemail message;
* :mod:`.dialers` — the built-in SIP endpoint or LiveKit SIP;
* :mod:`.report` — funnel numbers, per-lead CSV, HTML chart.

`tierline campaign run|report` (agent/commands/campaign.py), docs/campaigns.md.
"""
