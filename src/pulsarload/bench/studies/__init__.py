"""Focused measurements, each one question and its own ``pulsarload bench NAME`` subcommand.

Each module has a ``main()`` reading its own arguments (``--help`` says what they are); their
results go to stdout or ``bench/results/``, and what they found to docs/benchmarks.md.
"""
