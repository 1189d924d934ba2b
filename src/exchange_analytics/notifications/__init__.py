"""Notifications (SPEC §8): Discord payloads, their limits, a chart PNG, and the transport.

    formatting   pure builders: pattern_message, alert_message, test_message
    limits       Discord's limits and fit_message, which cuts instead of being refused
    chart        render_chart -> PNG (imports matplotlib only when called)
    discord      DiscordTransport: webhook or bot API, rate-limit pacing, retries, redaction

Importing this package is cheap: neither matplotlib nor pandas is loaded until a chart is drawn.
"""
