"""The root of errors whose message is meant for the person at the terminal.

A `UserError` carries one line that says what is wrong and what to do; the CLI prints it
without a traceback and exits non-zero. Every layer may raise it (it imports nothing).
"""

from __future__ import annotations


class UserError(Exception):
    """An error the user can act on; `str(err)` is the one line shown."""

    exit_code: int = 2


class ConfigError(UserError, ValueError):
    """A setting has a wrong value; the message names the setting and the allowed values."""
