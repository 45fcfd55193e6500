"""The browser dashboard: an ASGI app (Starlette on uvicorn) that serves one running load.

A view like `ui/`, beside it: it streams the same immutable snapshots the terminal dashboard
draws (Server-Sent Events, one frame per sampler tick) and steers the run with the same command
objects (`load.controls`); it never measures anything itself. Every browser watches the one
running controller, a late one receives the kept history first, and a viewer that stops
reading only loses frames of its own (bounded queues that drop to the latest).
"""
