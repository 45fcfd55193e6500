"""The load engine: worker pool, rate schedule, payloads, consumer strategies and scenarios.

Workers own their producer or consumer and their metric recorder; commands arrive on a queue and
are applied at the next loop turn. It knows engines and metrics, never the UI.
"""
