"""One settings model: every setting has a flag, an environment variable, a profile key and a
row in docs/settings.md, and the checked-in reference is what the model generates."""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path
from typing import Any

import pytest

from pulsarload import config, settings_doc
from pulsarload.cli import cli
from pulsarload.cli_flags import command_flags, default_of

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = {
    "produce": config.ProduceSettings,
    "consume": config.ConsumeSettings,
    "capacity": config.CapacitySettings,
}


def every_field() -> list[tuple[str, type, dataclasses.Field[Any]]]:
    return [(c, cls, f) for c, cls in COMMANDS.items() for f in dataclasses.fields(cls)]


def other_value(cls: type, f: dataclasses.Field[Any]) -> tuple[list[str], Any]:
    """Command-line words that set `f` to a value other than its default, and that value."""
    kind = config._field_type(cls, f.name)
    flag = config.setting_flag(f)
    default = default_of(f)
    meta = f.metadata
    if kind is bool:
        return ([f"--no-{flag[2:]}"] if default else [flag]), not default
    if typing.get_origin(kind) is tuple:
        return [flag, "a", flag, "b"], ("a", "b")
    if meta.get("choices"):
        value = next(c for c in meta["choices"] if c != default)
        return [flag, value], value
    if kind in (int, float):
        lo = meta.get("min", 0)
        value = kind(lo + 1 if default != lo + 1 else lo + 2)
        return [flag, str(value)], value
    return [flag, "some-text"], "some-text"


def test_every_setting_is_in_one_help_section() -> None:
    names = [n for group in config.SETTING_GROUPS.values() for n in group]
    assert len(names) == len(set(names)), "a setting listed in two sections"
    model = {f.name for _, _, f in every_field()}
    assert set(names) == model


@pytest.mark.parametrize(
    ("command", "cls", "f"), every_field(), ids=lambda x: getattr(x, "name", str(x))
)
def test_every_setting_has_a_flag_that_sets_it(
    command: str, cls: type, f: dataclasses.Field[Any]
) -> None:
    flag = config.setting_flag(f)
    assert flag in command_flags(cli.commands[command]), f"{command} has no {flag}"
    if flag.isupper():  # the positional TOPIC
        return
    words, value = other_value(cls, f)
    with cli.commands[command].make_context(command, ["TOPIC", *words]) as ctx:
        assert ctx.params[f.name] == value


def test_every_setting_has_its_own_environment_variable() -> None:
    by_var: dict[str, set[str]] = {}
    for _, _cls, f in every_field():
        by_var.setdefault(config.setting_env(f), set()).add(f.name)
    shared = {v: n for v, n in by_var.items() if len(n) > 1}
    assert not shared


@pytest.mark.parametrize(
    ("command", "cls", "f"), every_field(), ids=lambda x: getattr(x, "name", str(x))
)
def test_every_setting_reads_from_the_environment_and_a_profile(
    command: str, cls: type, f: dataclasses.Field[Any], tmp_path: Path
) -> None:
    _words, value = other_value(cls, f)
    text = ",".join(value) if isinstance(value, tuple) else str(value).lower()
    found = config.env_values(cls, {config.setting_env(f): text})
    assert found == {f.name: value}
    import tomli_w

    path = tmp_path / "p.toml"
    path.write_text(tomli_w.dumps({f.name: list(value) if isinstance(value, tuple) else value}))
    assert config.load_profile(cls, str(path)) == {f.name: value}


def test_every_setting_has_a_row_in_the_reference() -> None:
    text = (ROOT / "docs" / "settings.md").read_text()
    for _, _, f in every_field():
        row = re.search(rf"^\| `{f.name}` \| (.+)$", text, re.M)
        assert row, f"docs/settings.md has no row for {f.name}"
        assert f"`{config.setting_env(f)}`" in row.group(1)
        assert f"`{config.setting_flag(f)}`" in row.group(1)


def test_the_checked_in_reference_is_what_the_model_generates() -> None:
    checked_in = (ROOT / "docs" / "settings.md").read_text()
    assert checked_in == settings_doc.render(), "run: pulsarload settings-doc"


def test_settings_doc_check_fails_on_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "settings.md"
    stale.write_text(settings_doc.render().replace("restart", "live", 1))
    from click.testing import CliRunner

    from pulsarload.errors import UserError

    result = CliRunner().invoke(cli, ["settings-doc", "--check", "--output", str(stale)])
    assert isinstance(result.exception, UserError)
    settings_doc.write(stale)
    result = CliRunner().invoke(cli, ["settings-doc", "--check", "--output", str(stale)])
    assert result.exit_code == 0, result.output


def test_help_lists_the_options_in_sections() -> None:
    with cli.commands["produce"].make_context("produce", ["--help"], resilient_parsing=True) as ctx:
        text = cli.commands["produce"].get_help(ctx)
    for group in ("Run", "Connection", "Messages", "Producer", "Profiles and presets"):
        assert f"{group} options:" in text
    assert "Subscription options:" not in text  # consumer-only section
    run_section = text.split("Run options:")[1].split("options:")[0]
    assert "--threads" in run_section and "--batch-max-messages" not in run_section


def test_live_settings_come_from_the_model() -> None:
    from pulsarload.load.controller import LoadController

    assert {"rate", "threads"} <= LoadController.LIVE_FIELDS
    assert "topic" not in LoadController.LIVE_FIELDS
