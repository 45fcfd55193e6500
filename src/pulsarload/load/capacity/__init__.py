"""The capacity search: the highest rate a Pulsar cluster takes while meeting an SLO.

`search` decides which rate to try next (ramp, bisection, confirmation), `step` measures and
judges one step from its snapshots, `run` drives any controller through commands and
snapshots, and `local` runs it all in this process for `pulsarload capacity`.
"""
