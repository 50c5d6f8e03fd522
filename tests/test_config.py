"""The agent's configuration: the TOML file, `-c key=value` overrides, and errors that say what to fix."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from streamshell._engine.options import option_doc
from streamshell.agent.config import (
    ACCEPTED_KEYS,
    Config,
    ConfigError,
    default_config_path,
    load_config,
    parse_override,
)

ACCEPTED = (
    "accepted keys: model, base_url, experimental_use_exec_command_tool, experimental_instructions_file, "
    "ray_address, max_sessions, keep_unread_output, max_yield_time_ms, cwd, return_on_input_wait, "
    "exit_notices, profile, parent_death_signal, containment, transcript_dir, max_cast_bytes, "
    "max_transcripts_bytes, sandbox_mode, sandbox_workspace_write.writable_roots, "
    "sandbox_workspace_write.network_access, max_memory, max_processes, max_cpu"
)


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty XDG_CONFIG_HOME; returns where the default config file goes."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    path = tmp_path / "xdg" / "streamshell" / "config.toml"
    path.parent.mkdir(parents=True)
    return path


def test_every_setting_is_a_key() -> None:
    """Each field is a key, under its own name or the one Codex gives it (``sandbox_mode``)."""
    assert tuple(option_doc(f).key or f.name for f in dataclasses.fields(Config)) == ACCEPTED_KEYS


def test_no_file_gives_the_defaults(config_home: Path) -> None:
    assert load_config() == Config()
    assert Config().model == "gpt-5" and not Config().experimental_use_exec_command_tool


def test_default_path_follows_xdg(tmp_path: Path) -> None:
    home = str(Path.home())
    assert default_config_path({"XDG_CONFIG_HOME": "/etc/xdg-home"}) == Path(
        "/etc/xdg-home/streamshell/config.toml"
    )
    assert default_config_path({}) == Path(home, ".config", "streamshell", "config.toml")
    assert default_config_path({"XDG_CONFIG_HOME": "relative"}) == default_config_path({})


def test_the_default_file_is_read(config_home: Path, tmp_path: Path) -> None:
    config_home.write_text(
        'model = "o3"\nbase_url = "http://127.0.0.1:9/v1"\nexperimental_use_exec_command_tool = true\n'
        f'max_sessions = 8\nkeep_unread_output = false\ncwd = "{tmp_path}"\n'
    )
    assert load_config() == Config(
        model="o3",
        base_url="http://127.0.0.1:9/v1",
        experimental_use_exec_command_tool=True,
        max_sessions=8,
        keep_unread_output=False,
        cwd=str(tmp_path),
    )


def test_overrides_apply_in_order_over_the_file(config_home: Path) -> None:
    config_home.write_text('model = "o3"\n')
    config = load_config(overrides=["model=gpt-4.1", "max_sessions=3", "model = 'gpt-5-mini'"])
    assert (config.model, config.max_sessions) == ("gpt-5-mini", 3)


def test_an_explicit_file_replaces_the_default(config_home: Path, tmp_path: Path) -> None:
    config_home.write_text('model = "from-default"\n')
    other = tmp_path / "other.toml"
    other.write_text("experimental_use_exec_command_tool = true\n")
    config = load_config(other)
    assert config.model == "gpt-5" and config.experimental_use_exec_command_tool


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("model=o3", ("model", "o3")),  # not TOML: a string
        ('model="o3"', ("model", "o3")),
        ("max_sessions=8", ("max_sessions", 8)),
        ("flag=true", ("flag", True)),
        (" key = a=b ", ("key", "a=b")),  # split at the first '='
        ("list=[1, 2]", ("list", [1, 2])),
        ("quoted='it'", ("quoted", "it")),
        ("a.b=1", ("a.b", 1)),
    ],
)
def test_override_values_are_toml_else_strings(text: str, parsed: tuple[str, object]) -> None:
    assert parse_override(text) == parsed


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["nokey"], "-c 'nokey': expected key=value, e.g. -c model=gpt-5"),
        (["=3"], "-c '=3': the key before '=' is empty"),
        (["max_sessions=0"], "-c max_sessions=0: max_sessions = 0 is not a whole number >= 1"),
        (["max_sessions=abc"], '-c max_sessions=abc: max_sessions = "abc" is not a whole number >= 1'),
        (["max_sessions=true"], "-c max_sessions=true: max_sessions = true is not a whole number >= 1"),
        (
            ["experimental_use_exec_command_tool=yes"],
            '-c experimental_use_exec_command_tool=yes: experimental_use_exec_command_tool = "yes" '
            "is not true or false",
        ),
        (
            ["base_url=ftp://host"],
            '-c base_url=ftp://host: base_url = "ftp://host" is not an http:// or https:// URL, '
            'e.g. "http://127.0.0.1:8000/v1"',
        ),
        (["model="], '-c model=: model = "" is not a model name (a non-empty string)'),
        (
            ["cwd=/nonexistent-dir"],
            '-c cwd=/nonexistent-dir: cwd = "/nonexistent-dir" is not an existing directory',
        ),
        (
            ["ray_address=6379"],
            "-c ray_address=6379: ray_address = 6379 is not a Ray cluster address (a non-empty string: "
            '"HOST:PORT", "auto", "ray://HOST:PORT")',
        ),
        (["modle=o3"], f"-c modle=o3: unknown config key modle; {ACCEPTED}"),
        (["sessions.max=3"], f"-c sessions.max=3: unknown config key sessions.max; {ACCEPTED}"),
    ],
)
def test_bad_overrides_say_what_and_where(config_home: Path, overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(overrides=overrides)
    assert str(e.value) == message


def test_unknown_keys_in_the_file_are_all_named(config_home: Path) -> None:
    config_home.write_text('model = "o3"\napproval_policy = "never"\n[session]\nmax = 3\n')
    with pytest.raises(ConfigError) as e:
        load_config()
    assert str(e.value) == f"{config_home}: unknown config keys approval_policy, session; {ACCEPTED}"


def test_a_bad_value_in_the_file_names_the_file(config_home: Path) -> None:
    config_home.write_text("keep_unread_output = 1\n")
    with pytest.raises(ConfigError) as e:
        load_config()
    assert str(e.value) == f"{config_home}: keep_unread_output = 1 is not true or false"


def test_file_problems(config_home: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^config file /nonexistent\.toml does not exist$"):
        load_config("/nonexistent.toml")
    config_home.write_text("model = \n")
    with pytest.raises(
        ConfigError, match=r"config\.toml: not valid TOML: Invalid value \(at line 1, column 9\)$"
    ):
        load_config()
    with pytest.raises(ConfigError, match=r"cannot be read: Is a directory$"):
        load_config(tmp_path)


def test_paths_are_taken_from_the_current_directory(
    config_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path)
    config = load_config(overrides=["cwd=work", "experimental_instructions_file=prompt.md"])
    assert config.cwd == str(tmp_path / "work")
    assert config.experimental_instructions_file == str(tmp_path / "prompt.md")


def test_the_instructions_file_replaces_the_built_in_instructions(tmp_path: Path) -> None:
    prompt = tmp_path / "prompt.md"
    assert Config().instructions("built-in") == "built-in"
    prompt.write_text("\n  Use exec_command.  \n")
    assert Config(experimental_instructions_file=str(prompt)).instructions("built-in") == "Use exec_command."
    prompt.write_text(" \n")
    with pytest.raises(ConfigError, match=r"prompt\.md: the file is empty$"):
        Config(experimental_instructions_file=str(prompt)).instructions("built-in")
    with pytest.raises(ConfigError, match=r"missing\.md: cannot be read: "):
        Config(experimental_instructions_file=str(tmp_path / "missing.md")).instructions("built-in")
