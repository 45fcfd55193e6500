"""Command-line flags built from the settings model, and `--help` in sections.

Every settings field of config.py becomes one option here: its flag (`config.setting_flag`), its
type, choices and help come from the field, so a setting added to the model is reachable from the
command line, the environment, a profile and docs/settings.md at once, and none can drift.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from typing import Any

import click

from pulsarload import config

#: The section of the options that are not settings (where settings come from).
SOURCES_GROUP = "Profiles and presets"


class SettingOption(click.Option):
    """A click option that knows its `--help` section."""

    def __init__(self, *args: Any, group: str = SOURCES_GROUP, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group = group


class GroupedCommand(click.Command):
    """A command whose `--help` lists its options under the model's sections, in their order."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None:
                sections.setdefault(getattr(param, "group", SOURCES_GROUP), []).append(record)
        order = [*config.SETTING_GROUPS, SOURCES_GROUP]
        for name in sorted(sections, key=order.index):
            with formatter.section(f"{name} options"):
                formatter.write_dl(sections[name])


class Fraction(click.ParamType):
    """A fraction given as a percentage ('5%') or a number ('0.05')."""

    name = "fraction"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, float):
            return value
        text = str(value).strip()
        try:
            return float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            self.fail(
                f"{value!r} is not a percentage (e.g. 5%) or a fraction (e.g. 0.05)", param, ctx
            )


def default_of(f: dataclasses.Field[Any]) -> Any:
    """A field's default as the model states it (the built-in one, not the environment's)."""
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # only env-reading URL fields and tuples
        return f.default_factory()
    return None


def default_text(f: dataclasses.Field[Any]) -> str:
    """How docs and `--help` show a default."""
    value = default_of(f)
    if f.metadata.get("secret") or value is None or value == ():
        return ""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ", ".join(value)
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    return str(value)


def option_for(cls: type, f: dataclasses.Field[Any]) -> tuple[list[str], dict[str, Any]]:
    """The click option of one settings field: its declarations and keyword arguments."""
    meta = f.metadata
    flag = config.setting_flag(f)
    kind = config._field_type(cls, f.name)
    kwargs: dict[str, Any] = {"default": None}
    if kind is bool:
        decls = [f"{flag}/--no-{flag[2:]}"]
    else:
        decls = [flag, *([meta["short"]] if meta.get("short") else [])]
        if typing.get_origin(kind) is tuple:
            kwargs["multiple"] = True
        elif meta.get("choices"):
            kwargs["type"] = click.Choice(meta["choices"])
        elif meta.get("parse") == "fraction":
            kwargs["type"] = Fraction()
        elif kind in (int, float):
            kwargs["type"] = kind
        if meta.get("metavar"):
            kwargs["metavar"] = meta["metavar"]
    shown = default_text(f)
    help_text = meta.get("help", "")
    kwargs["help"] = f"{help_text} [{shown}]" if shown else help_text
    kwargs["group"] = config.setting_group(f.name)
    return [*decls, f.name], kwargs


def setting_options(cls: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a command with one option per setting of `cls` (TOPIC is its argument), plus
    where settings come from: a profile, a preset, or saving them."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        options = [
            option_for(cls, f)
            for f in dataclasses.fields(cls)
            if not config.setting_flag(f).isupper()  # the positional TOPIC
        ]
        options += [
            (["--profile", "profile_name"], {"help": "Load settings from a TOML profile."}),
            (["--save-profile"], {"help": "Save the resolved settings as a profile and exit."}),
            (["--preset"], {"type": click.Choice(tuple(config.PRESETS)), "help": "A preset."}),
        ]
        for decls, kwargs in reversed(options):
            func = click.option(*decls, cls=SettingOption, **kwargs)(func)
        return click.argument("topic", required=False)(func)

    return decorate


def boolean_flags(cls: type) -> set[str]:
    """The flags of `cls`'s on/off settings (`--x` and `--no-x`): they take no value."""
    flags: set[str] = set()
    for f in dataclasses.fields(cls):
        if config._field_type(cls, f.name) is bool:
            flag = config.setting_flag(f)
            flags |= {flag, f"--no-{flag[2:]}"}
    return flags


def command_flags(command: click.Command) -> set[str]:
    """Every flag and argument name a command takes (for tests and docs)."""
    names: set[str] = set()
    for param in command.params:
        if isinstance(param, click.Argument):
            names.add((param.name or "").upper())
        else:
            names.update(param.opts)
            names.update(param.secondary_opts)
    return names
