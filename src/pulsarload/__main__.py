"""`python -m pulsarload` runs the command line."""

from pulsarload.cli import main

main()
