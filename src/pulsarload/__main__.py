"""`python -m pulsarload` runs the command line."""

from pulsarload.entry import main

if __name__ == "__main__":
    main()
