"""Benchmarks: pulsarload side by side with the tools a user would otherwise pick.

Every contender (the native engine on the free-threaded and on the GIL build, the official C++
client, Apache's pulsar-perf) runs as its own subprocess on a fresh topic of the same broker with
the same settings, so its CPU time and peak memory are its own (``os.wait4`` rusage) and the
broker's share is excluded. ``contenders`` runs one contender and collects its figures, ``suite``
runs the fixed suite and writes docs/benchmarks.md, ``micro`` measures the CPU-bound hot paths
with 1 and 2 threads (the free-threading promise, measured), and ``compare`` backs
``pulsarload compare``. Nothing in the package imports this layer.
"""
