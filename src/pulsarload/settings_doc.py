"""docs/settings.md, generated from the settings model (`pulsarload settings-doc`).

The reference is written from the same fields the flags, environment variables and profiles come
from, and a unit test compares the checked-in file with what this module writes, so the page
cannot drift from the tool.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from pulsarload import config
from pulsarload.cli_flags import default_text

DOC_PATH = Path("docs/settings.md")

#: The settings classes, and the commands that take each.
CLASSES: tuple[tuple[type, str], ...] = (
    (config.RunSettings, "produce, consume, capacity"),
    (config.ProduceSettings, "produce, capacity"),
    (config.ConsumeSettings, "consume"),
    (config.CapacitySettings, "capacity"),
)

HEADER = f"""# Settings reference

Generated from the settings model in `src/pulsarload/config.py` by `pulsarload settings-doc`
(a unit test fails when this file differs from what the model generates: edit the model, then
run `pulsarload settings-doc`). Every setting can be given four ways; the first found wins:

1. a command-line flag (`pulsarload produce --help` lists them in these sections),
2. an environment variable,
3. a profile: a TOML file whose keys are the names below (`--profile NAME`, saved with
   `--save-profile NAME`; names live in `~/.config/pulsarload/profiles/`),
4. a preset (`--preset {"|".join(config.PRESETS)}`), then the default.

**When** says how a running dashboard takes a change from its config panel (`c`) or keys:
*live* applies at once; *restart* flushes and closes the workers and starts new ones with the
new value. Secrets (tokens) are never written into profiles or reports.
"""


def _range(f: dataclasses.Field[Any]) -> str:
    meta = f.metadata
    if meta.get("choices"):
        return ", ".join(f"`{c}`" for c in meta["choices"])
    lo, hi = meta.get("min"), meta.get("max")
    if lo is None and hi is None:
        return ""
    return f"{lo if lo is not None else ''}..{hi if hi is not None else ''}"


def _owner(name: str) -> tuple[type, str]:
    """The most general settings class that has the field, and its commands."""
    for cls, commands in CLASSES:
        if name in config.settings_fields(cls):
            return cls, commands
    raise KeyError(name)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render() -> str:
    """The whole page, one table per section of `--help`."""
    every = config.settings_fields(config.CapacitySettings) | config.settings_fields(
        config.ConsumeSettings
    )
    out = [HEADER]
    for group, names in config.SETTING_GROUPS.items():
        out.append(f"## {group}\n")
        out.append(
            "| name (profile key) | flag | environment variable | default | range | when | commands | what |"
        )
        out.append("|---|---|---|---|---|---|---|---|")
        for name in names:
            f = every[name]
            cls, commands = _owner(name)
            flag = config.setting_flag(f)
            short = f.metadata.get("short")
            flag_text = f"`{flag}`" + (f", `{short}`" if short else "")
            if config._field_type(cls, name) is bool:
                flag_text = f"`{flag}` / `--no-{flag[2:]}`"
            default = default_text(f)
            row = [
                f"`{name}`",
                flag_text,
                f"`{config.setting_env(f)}`",
                f"`{default}`" if default else "",
                _range(f),
                "live" if f.metadata.get("live") else "restart",
                commands,
                _cell(f.metadata.get("help", "")),
            ]
            out.append("| " + " | ".join(row) + " |")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def write(path: Path = DOC_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render())
    return path
