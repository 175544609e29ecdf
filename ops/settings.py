"""Loading `Settings`: defaults, then a YAML file, then `BEDROCK_*` environment variables."""

from __future__ import annotations

import difflib
import json
import os
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Union
from urllib.parse import urlsplit, urlunsplit

import attrs
import cattrs
import yaml

from ops.config import Settings
from web.auth.forwarded import parse_networks
from web.auth.oauth.providers import provider_problem

ENV_PREFIX = "BEDROCK_"
CONFIG_FILE_ENV = "BEDROCK_CONFIG_FILE"
MASK = "********"
MIN_JWT_SECRET_BYTES = 32

Path_ = tuple[str, ...]


class ConfigError(Exception):
    """A configuration problem, worded as one line that names the key and the fix."""


def load_settings(
    *,
    config_file: str | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Compose defaults < YAML file < environment into validated `Settings`."""
    env = os.environ if environ is None else environ
    sources: dict[Path_, str] = {}
    merged: dict[str, Any] = {}

    path = _choose_file(config_file, env, cwd or Path.cwd())
    if path is not None:
        from_file = _read_yaml(path)
        _check_known_keys(from_file, Settings, (), path.name)
        _record_sources(from_file, (), f"{path.name}", sources)
        merged = from_file

    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or name == CONFIG_FILE_ENV:
            continue
        key_path, value = _env_entry(name, env[name])
        _set_nested(merged, key_path, value)
        sources[key_path] = name

    settings = _structure(merged, sources)
    _check_semantics(settings, sources)
    return settings


def _choose_file(explicit: str | None, env: Mapping[str, str], cwd: Path) -> Path | None:
    if explicit:
        chosen = Path(explicit)
    elif env.get(CONFIG_FILE_ENV):
        chosen = Path(env[CONFIG_FILE_ENV])
    else:
        default = cwd / "config.yaml"
        return default if default.is_file() else None
    if not chosen.is_absolute():
        chosen = cwd / chosen
    if not chosen.is_file():
        raise ConfigError(f"config error: config file {chosen} does not exist (check -c/--config)")
    return chosen


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config error: cannot read {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"config error: {path.name} is not valid YAML{line}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"config error: {path.name} must hold a mapping of sections")
    return loaded


# --- walking the schema -------------------------------------------------------------


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in attrs.fields(cls)}


def _unwrap_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _dotted(path: Path_) -> str:
    return ".".join(path)


def _env_name(path: Path_) -> str:
    return ENV_PREFIX + "__".join(p.upper() for p in path)


def _check_known_keys(data: Any, cls: Any, path: Path_, origin: str) -> None:
    cls = _unwrap_optional(cls)
    if attrs.has(cls):
        if not isinstance(data, dict):
            return  # the converter reports the wrong type
        known = _field_types(cls)
        for key, value in data.items():
            if key not in known:
                hint = difflib.get_close_matches(str(key), list(known), n=1)
                fix = f"did you mean {_dotted((*path, hint[0]))}?" if hint else "remove it"
                raise ConfigError(
                    f"config error: unknown key {_dotted((*path, str(key)))} in {origin} ({fix})"
                )
            _check_known_keys(value, known[key], (*path, key), origin)
    elif typing.get_origin(cls) is dict and isinstance(data, dict):
        value_type = typing.get_args(cls)[1]
        for key, value in data.items():
            _check_known_keys(value, value_type, (*path, str(key)), origin)


def _record_sources(data: Any, path: Path_, origin: str, out: dict[Path_, str]) -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            _record_sources(value, (*path, str(key)), origin, out)
    out[path] = origin


def _env_entry(name: str, raw: str) -> tuple[Path_, Any]:
    parts = name[len(ENV_PREFIX) :].lower().split("__")
    tp: Any = Settings
    path: Path_ = ()
    for part in parts:
        tp = _unwrap_optional(tp)
        if attrs.has(tp):
            known = _field_types(tp)
            if part not in known:
                hint = difflib.get_close_matches(part, list(known), n=1)
                fix = f"did you mean {_env_name((*path, hint[0]))}?" if hint else "unset it"
                raise ConfigError(f"config error: unknown setting {name} ({fix})")
            tp = known[part]
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        else:
            raise ConfigError(f"config error: unknown setting {name} ({_dotted(path)} has no keys)")
        path = (*path, part)
    return path, _parse_env_value(_unwrap_optional(tp), raw, name)


def _parse_env_value(tp: Any, raw: str, name: str) -> Any:
    origin = typing.get_origin(tp)
    if origin is list:
        text = raw.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except ValueError as exc:
                raise ConfigError(f"config error: {name} is not a valid JSON list") from exc
        return [item.strip() for item in text.split(",") if item.strip()]
    if origin is dict or attrs.has(tp):
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ConfigError(f"config error: {name} must be a JSON object") from exc
    return raw


def _set_nested(target: dict[str, Any], path: Path_, value: Any) -> None:
    node = target
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[path[-1]] = value


# --- structuring with cattrs ------------------------------------------------------------

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _to_bool(value: Any, _: type) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"expected true or false, got {value!r}")


def _to_int(value: Any, _: type) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
        return int(value)
    raise ValueError(f"expected a whole number, got {value!r}")


def _to_float(value: Any, _: type) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise ValueError(f"expected a number, got {value!r}")


def _to_str(value: Any, _: type) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected text, got {value!r}")


def _converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True)
    conv.register_structure_hook(bool, _to_bool)
    conv.register_structure_hook(int, _to_int)
    conv.register_structure_hook(float, _to_float)
    conv.register_structure_hook(str, _to_str)

    def literal_hook(value: Any, tp: Any) -> Any:
        allowed = typing.get_args(tp)
        if isinstance(value, str) and all(isinstance(a, str) for a in allowed):
            # case-insensitive, answering with the canonical spelling (HS256, not hs256)
            spelled = {str(a).lower(): a for a in allowed}
            value = spelled.get(value.strip().lower(), value)
        if value not in allowed:
            choices = "|".join(str(a) for a in allowed)
            raise ValueError(f"expected one of {choices}, got {value!r}")
        return value

    def is_literal(tp: Any) -> bool:
        origin: object = typing.get_origin(tp)
        return origin is Literal

    conv.register_structure_hook_func(is_literal, literal_hook)
    return conv


_CONVERTER = _converter()
_FIELD_MARK = "\x00field:"
_PATH_PART = re.compile(r"\.(\w+)|\[['\"]?([^'\"\]]+)['\"]?\]")


def _structure(data: dict[str, Any], sources: dict[Path_, str]) -> Settings:
    try:
        return _CONVERTER.structure(data, Settings)
    except Exception as exc:
        messages = cattrs.transform_error(exc, path="$", format_exception=_format_exception)
        first = messages[0] if messages else str(exc)
        text, _, where = first.rpartition(" @ ")
        path = tuple(a or b for a, b in _PATH_PART.findall(where))
        if text.startswith(_FIELD_MARK):
            field, _, text = text[len(_FIELD_MARK) :].partition("|")
            path = (*path, field)
        raise ConfigError(_error_line(path, text or first, sources)) from exc


def _format_exception(exc: BaseException, _: type | None) -> str:
    if isinstance(exc, KeyError):
        return "is required"
    text = str(exc)
    # attrs validators say "'port' must be <= 65535: 70000"
    match = re.fullmatch(r"'(\w+)' must be (.+): (.*)", text)
    if match:  # raised in the class's __init__, so name the field ourselves
        return f"{_FIELD_MARK}{match.group(1)}|must be {match.group(2)}, got {match.group(3)}"
    if isinstance(exc, TypeError | AttributeError):
        return "has the wrong shape (expected a mapping of settings)"
    return text


def _error_line(path: Path_, problem: str, sources: Mapping[Path_, str]) -> str:
    key = _dotted(path) or "configuration"
    origin = sources.get(path)
    if origin and origin.startswith(ENV_PREFIX):
        fix = f"fix {origin}"
    elif origin:
        fix = f"fix {key} in {origin} or set {_env_name(path)}"
    else:
        fix = f"set {_env_name(path)}"
    return f"config error: {key} {problem} ({fix})"


def _check_semantics(settings: Settings, sources: Mapping[Path_, str]) -> None:
    secret = settings.jwt.secret
    if not secret:
        raise ConfigError("config error: jwt.secret is required (set BEDROCK_JWT__SECRET)")
    # RFC 7518 §3.2: an HMAC key at least as long as the hash (HS384: 48, HS512: 64 bytes)
    minimum = max(MIN_JWT_SECRET_BYTES, int(settings.jwt.algorithm[2:]) // 8)
    if len(secret.encode()) < minimum:
        raise ConfigError(
            _error_line(
                ("jwt", "secret"),
                f"must be at least {minimum} bytes"
                + (f" for {settings.jwt.algorithm}" if minimum > MIN_JWT_SECRET_BYTES else ""),
                sources,
            )
        )
    db_url = settings.database.url
    if not (db_url.startswith("sqlite") or db_url.startswith("postgresql")):
        raise ConfigError(
            _error_line(
                ("database", "url"),
                "must be a sqlite:/// or postgresql+psycopg:// URL",
                sources,
            )
        )
    for name, provider in settings.oauth.providers.items():
        if not provider.client_id:
            raise ConfigError(
                _error_line(("oauth", "providers", name, "client_id"), "is required", sources)
            )
        problem = provider_problem(name, provider)
        if problem:
            raise ConfigError(_error_line(("oauth", "providers", name), problem, sources))
    try:
        parse_networks(settings.server.trusted_proxies)
    except ValueError as exc:
        raise ConfigError(_error_line(("server", "trusted_proxies"), str(exc), sources)) from exc


# --- showing the effective configuration ------------------------------------------------


def masked(settings: Settings) -> dict[str, Any]:
    """The settings as plain data with every secret masked, for `config show` and logs."""
    return typing.cast(dict[str, Any], _mask(settings))


def _mask(value: Any) -> Any:
    if attrs.has(type(value)):
        out: dict[str, Any] = {}
        for field in attrs.fields(type(value)):
            item = getattr(value, field.name)
            if field.metadata.get("secret") and item:
                out[field.name] = _mask_secret(str(item))
            else:
                out[field.name] = _mask(item)
        return out
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


def _mask_secret(value: str) -> str:
    """Mask a secret; for a URL keep everything but the password."""
    if "://" in value:
        parts = urlsplit(value)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", f":{MASK}@")
            return urlunsplit(parts._replace(netloc=netloc))
        return value
    return MASK
