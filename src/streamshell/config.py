"""The agent's configuration: a TOML file, then ``-c key=value`` overrides, as Codex reads its own.

The file is ``$XDG_CONFIG_HOME/streamshell/config.toml`` (``~/.config/streamshell/config.toml``
when that is unset), or the one ``--config PATH`` names. Each ``-c key=value`` is applied
on top in order; the value is parsed as TOML and, when that fails, taken as a string
(Codex's rule, so ``-c model=o3`` works unquoted). Unknown keys and values of the wrong
type are errors that name the key, where it came from and what is accepted. Relative
paths are taken from the current directory, as Codex takes them.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

DEFAULT_MODEL = "gpt-5"
"""The model Codex 0.29.0 used by default."""


class ConfigError(Exception):
    """A config file or override that cannot be used; ``str()`` says what and where."""


@dataclass(frozen=True)
class Config:
    """Everything ``streamshell agent`` can be configured with, and the defaults."""

    model: str = DEFAULT_MODEL
    """The model to ask."""
    base_url: str | None = None
    """The Responses API endpoint; None: ``$OPENAI_BASE_URL``, else OpenAI's."""
    experimental_use_exec_command_tool: bool = False
    """Advertise exec_command + write_stdin instead of the one-shot ``shell`` tool (Codex's flag)."""
    experimental_instructions_file: str | None = None
    """A file whose contents replace the built-in instructions."""
    max_sessions: int = 64
    """Sessions open at most; starting one more prunes one."""
    keep_unread_output: bool = True
    """Return output printed between calls with the next call."""
    cwd: str | None = None
    """Working directory of the commands; None: the current one."""

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


@dataclass(frozen=True)
class _Rule:
    """What a key accepts: ``expected`` says it in words; ``convert`` returns the value or None."""

    expected: str
    convert: Callable[[Any], Any]


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _url(value: Any) -> str | None:
    ok = isinstance(value, str) and value.startswith(("http://", "https://"))
    return value if ok else None


def _boolean(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _positive(value: Any) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
    return value if ok else None


def _path(value: Any) -> str | None:
    return os.path.abspath(os.path.expanduser(value)) if _string(value) else None


def _directory(value: Any) -> str | None:
    path = _path(value)
    return path if path is not None and os.path.isdir(path) else None


_RULES: dict[str, _Rule] = {
    "model": _Rule("a model name (a non-empty string)", _string),
    "base_url": _Rule('an http:// or https:// URL, e.g. "http://127.0.0.1:8000/v1"', _url),
    "experimental_use_exec_command_tool": _Rule("true or false", _boolean),
    "experimental_instructions_file": _Rule("a file path (a non-empty string)", _path),
    "max_sessions": _Rule("a whole number >= 1", _positive),
    "keep_unread_output": _Rule("true or false", _boolean),
    "cwd": _Rule("an existing directory", _directory),
}
ACCEPTED_KEYS = tuple(_RULES)


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
    unknown = [key for key in values if key not in _RULES]
    if unknown:
        raise ConfigError(
            f"{source}: unknown config key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"accepted keys: {', '.join(ACCEPTED_KEYS)}"
        )
    checked = {}
    for key, value in values.items():
        rule = _RULES[key]
        converted = rule.convert(value)
        if converted is None:
            shown = json.dumps(value, default=str, ensure_ascii=False)
            raise ConfigError(f"{source}: {key} = {shown} is not {rule.expected}")
        checked[key] = converted
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
