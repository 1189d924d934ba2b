"""The operations reports (SPEC §2): each a function returning data, rendered as a table for
people and as JSON for machines from the same data.

    dbstats        rows, first/last bar and gaps per pair x timeframe; table sizes
    perfstats      run statistics over the last 24 h and 7 d
    dbperf         latency of the pipeline's key queries; table and index sizes
    system_report  the monthly report (sections: daily, slowest cycles, patterns, outcomes)
    connection_test  database reachability, server version, migration revision

They read the database; ``health`` (run statistics) and ``evaluation`` (signal outcomes) are
the pure pieces they share.
"""
