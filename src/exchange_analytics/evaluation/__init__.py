"""Does a pattern work? Outcomes of signals, baselines and walk-forward (SPEC §16).

Pure computation over bars and detections; sits above ``patterns`` and below the CLI.
"""
