"""The domain: what a job's state is and when it is stale, suppressed or in grace.

Owns the pure rules (`rules`, with `now` passed in), schedules (cron and period arithmetic),
duration texts (`durations`), the policy the settings set (`policy`: thresholds, grace,
channels, checker deadline), a job's admin address (`links`), the checker's history and what
"previous check run" means (`check_runs`), and the SQL twins of the rules (`queries`, held equal
to `rules` by tests/test_rules_sql_agree.py). May import only `heartbeats.models` and
`heartbeats.job_count`.
"""
