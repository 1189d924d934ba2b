"""Notifications (SPEC §8): Discord payloads, their limits, a chart PNG, and the transport.

    formatting   pure builders: pattern_message, alert_message, test_message
    formatting_fields  one field's text: readings, levels, times, the track record
    followup_format    the outcome follow-up and the digest (split within the limits)
    pattern_entry      the outbox row of a pattern message (payload + chart levels)
    policy       NOTIFY_POLICY parsing and the delivery decision (SPEC §17)
    outbox       enqueue and the sender (never lost, never doubled)
    limits       Discord's limits and fit_message, which cuts instead of being refused
    chart        render_chart -> PNG (imports matplotlib only when called)
    discord      DiscordTransport: webhook or bot API, rate-limit pacing, retries, redaction
    discord_pacing   its RetryPolicy and the rate-limit buckets Discord's headers describe
    discord_wire     its requests and answers: the post body, refusals, the outcome types

Importing this package is cheap: neither matplotlib nor pandas is loaded until a chart is drawn.
"""
