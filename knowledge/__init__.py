"""Knowledge base: information articles and an HSDS 3.0 referral directory, searchable mid-call.

Stands alone: nothing here imports `console`, `telephony` or `chat`. The console reaches in through
`knowledge.search.search`, `knowledge.referrals.service_summary`, `knowledge.freshness` and the
`kb` click group.
"""
