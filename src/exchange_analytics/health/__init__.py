"""Health: the health check (SPEC §9.2) and the alert rules (§9.1).

Pure evaluation is kept apart from I/O so it can be tested with an explicit clock:

    market_hours   FX weekly closure (Fri 17:00 to Sun 17:00 America/New_York), pure
    runstats       statistics over processing_runs rows (success rate, streaks, percentiles)
    facts          the plain data the health check gathers
    checks         facts + thresholds + now -> ok / degraded / unhealthy per component
    alert_rules    recent runs -> the alert conditions that hold now (and when to send them)
    report         human table and JSON rendering of a health report
    gather         the only I/O of the health check (database, provider, disk, memory, .env)

The operations reports live beside this package in ``reports``; signal outcomes in
``evaluation``.

Nothing in this package imports pandas, numpy or TA-Lib: ``exchange-analytics health`` must
start and finish within a second.
"""
