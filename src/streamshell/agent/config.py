"""The agent's configuration: a TOML file, then ``-c key=value`` overrides, as Codex reads its own.

The file is ``$XDG_CONFIG_HOME/streamshell/config.toml`` (``~/.config/streamshell/config.toml``
when that is unset), or the one ``--config PATH`` names. Each ``-c key=value`` is applied
on top in order; the value is parsed as TOML and, when that fails, taken as a string
(Codex's rule, so ``-c model=o3`` works unquoted). Unknown keys and values of the wrong
type are errors that name the key, where it came from and what is accepted. Relative
paths are taken from the current directory, as Codex takes them.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .._engine.options import (
    BOOLEAN,
    ManagerOptions,
    Rejected,
    Rule,
    option,
    option_doc,
    options_from,
    settings,
)

DEFAULT_MODEL = "gpt-5"
"""The model Codex 0.29.0 used by default."""


class ConfigError(Exception):
    """A config file or override that cannot be used; ``str()`` says what and where."""


def _string(value: Any) -> str:
    if isinstance(value, str) and value:
        return value
    raise Rejected


def _url(value: Any) -> str:
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return value
    raise Rejected


def _path(value: Any) -> str:
    return os.path.abspath(os.path.expanduser(_string(value)))


def _with_manager_options(cls: type[Any]) -> type[Any]:
    """Add every setting of the session manager to ``cls`` as a field (before ``@dataclass``
    sees it), with the default, rule and help :class:`ManagerOptions` declares: a new user option
    becomes a config key without being written here again (its key may differ from the field's
    name: ``sandbox_mode`` sets ``sandbox``)."""
    for s in settings():
        cls.__annotations__[s.name] = s.type
        setattr(cls, s.name, option(s.default, s.rule, s.help, user=True, key=s.key))
    return cls


@dataclass(frozen=True)
@_with_manager_options
class Config:
    """Everything ``streamshell agent`` can be configured with, and the defaults: the agent's own
    keys below, then the session manager's user options (``max_sessions``, ``keep_unread_output``,
    ``cwd``, ...), added by :func:`_with_manager_options`."""

    model: str = option(DEFAULT_MODEL, Rule("a model name (a non-empty string)", _string), "the model to ask")
    base_url: str | None = option(
        None,
        Rule('an http:// or https:// URL, e.g. "http://127.0.0.1:8000/v1"', _url),
        "the Responses API endpoint; default: $OPENAI_BASE_URL, else OpenAI's",
    )
    experimental_use_exec_command_tool: bool = option(
        False,
        BOOLEAN,
        "advertise exec_command + write_stdin instead of the one-shot shell tool (Codex's flag)",
    )
    experimental_instructions_file: str | None = option(
        None,
        Rule("a file path (a non-empty string)", _path),
        "a file whose contents replace the built-in instructions",
    )
    ray_address: str | None = option(
        None,
        Rule('a Ray cluster address (a non-empty string: "HOST:PORT", "auto", "ray://HOST:PORT")', _string),
        "run the commands on the nodes of this Ray cluster (needs streamshell[ray]); default: here",
    )

    def instructions(self, default: str) -> str:
        """The instructions to send: ``default``, or the instructions file's contents (trimmed)."""
        if self.experimental_instructions_file is None:
            return default
        path = self.experimental_instructions_file
        try:
            text = Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"experimental_instructions_file {path}: cannot be read: {e}") from None
        if not text:
            raise ConfigError(f"experimental_instructions_file {path}: the file is empty")
        return text

    def manager_options(self) -> ManagerOptions:
        """The session manager's options this configuration sets."""
        return options_from({s.name: getattr(self, s.name) for s in settings()})


_FIELDS = {option_doc(f).key or f.name: f for f in dataclasses.fields(Config)}
"""Each config key's field (``sandbox_workspace_write.network_access``: a key in a table)."""
ACCEPTED_KEYS = tuple(_FIELDS)
_TABLES = {key.split(".")[0] for key in _FIELDS if "." in key}


def _flatten(values: Mapping[str, Any]) -> dict[str, Any]:
    """Keys of known tables (``[sandbox_workspace_write]``) as dotted keys, as ``-c`` gives them."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if key in _TABLES and isinstance(value, Mapping):
            flat.update({f"{key}.{sub}": item for sub, item in value.items()})
        else:
            flat[key] = value
    return flat


def default_config_path(environ: Mapping[str, str] = os.environ) -> Path:
    """``$XDG_CONFIG_HOME/streamshell/config.toml``; a relative XDG_CONFIG_HOME is ignored (the XDG spec)."""
    base = environ.get("XDG_CONFIG_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "streamshell" / "config.toml"


def parse_override(text: str) -> tuple[str, Any]:
    """Split ``key=value`` at the first ``=``; the value is TOML, or else a string (quotes stripped)."""
    key, sep, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    if not sep:
        raise ConfigError(f"-c {text!r}: expected key=value, e.g. -c model=gpt-5")
    if not key:
        raise ConfigError(f"-c {text!r}: the key before '=' is empty")
    try:
        value = tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw.strip("\"'")
    return key, value


def _read_file(path: Path, *, explicit: bool) -> dict[str, Any]:
    """The file's table; a missing default file is an empty one."""
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"config file {path} does not exist") from None
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    except OSError as e:
        raise ConfigError(f"config file {path} cannot be read: {e.strerror}") from None


def _apply(config: Config, values: Mapping[str, Any], source: str) -> Config:
    """``config`` with ``values`` (from ``source``) checked and set."""
    values = _flatten(values)
    unknown = [key for key in values if key not in _FIELDS]
    if unknown:
        raise ConfigError(
            f"{source}: unknown config key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"accepted keys: {', '.join(ACCEPTED_KEYS)}"
        )
    checked = {}
    for key, value in values.items():
        try:
            checked[_FIELDS[key].name] = option_doc(_FIELDS[key]).rule.apply(key, value)
        except Rejected as e:
            raise ConfigError(f"{source}: {e}") from None
    return replace(config, **checked)


def load_config(path: str | os.PathLike[str] | None = None, overrides: Sequence[str] = ()) -> Config:
    """The configuration from ``path`` (default: :func:`default_config_path`), then ``overrides``.

    Raises :class:`ConfigError` for a file that is missing (when named), unreadable or not
    TOML, for unknown keys and for bad values.
    """
    file = Path(path) if path is not None else default_config_path()
    config = _apply(Config(), _read_file(file, explicit=path is not None), str(file))
    for text in overrides:
        key, value = parse_override(text)
        config = _apply(config, {key: value}, f"-c {text}")
    return config
