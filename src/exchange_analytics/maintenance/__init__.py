"""Maintenance: what keeps an installation healthy over months.

retention      SPEC §4.4 retention deletes and VACUUM/ANALYZE (database_optimization.py)
logs           daily log maintenance: rotate > 10 MB, gzip, expire (``logs maintain``)
crontab        renders crontab/updated_crontab.txt for this installation (``crontab``)
"""
