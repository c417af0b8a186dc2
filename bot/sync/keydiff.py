"""Key-level changes of YAML/JSON/TOML config files (``db.pool: 10 -> 20``).

Values under secret-looking keys (``db.password``, ``api_key``, ... at any depth) are never
shown: ``db.password: changed (value hidden)``."""

from __future__ import annotations

import json
import tomllib
from typing import Any

import yaml

from bot import safeyaml
from bot.redact import HIDDEN, is_secret_key


def _parse(path: str, data: bytes | None) -> Any:
    if data is None:
        return {}
    text = data.decode(errors="replace")
    low = path.lower()
    try:
        if low.endswith((".yml", ".yaml")):
            return safeyaml.load(text) or {}
        if low.endswith(".json"):
            return json.loads(text)
        if low.endswith(".toml"):
            return tomllib.loads(text)
    except safeyaml.YAMLLimitError as exc:  # an alias bomb: one line, not megabytes
        return {"<refused>": f"{path}:{exc.line}: {exc.problem}"}
    except (yaml.YAMLError, json.JSONDecodeError, tomllib.TOMLDecodeError, RecursionError,
            ValueError) as exc:
        return {"<unparsable>": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
    return None


def _flat(node: Any, prefix: str = "", out: dict[str, Any] | None = None) -> dict[str, Any]:
    out = {} if out is None else out
    if isinstance(node, dict) and node:
        for k, v in node.items():
            _flat(v, f"{prefix}.{k}" if prefix else str(k), out)
    else:
        out[prefix or "(root)"] = node
    return out


def key_changes(path: str, old: bytes | None, new: bytes | None) -> list[str]:
    """Readable key-level changes between two versions of a config file ([] if not config)."""
    a, b = _parse(path, old), _parse(path, new)
    if a is None or b is None:
        return []
    fa, fb = _flat(a), _flat(b)
    out: list[str] = []
    for k in sorted(set(fa) | set(fb)):
        hidden = any(is_secret_key(part) for part in k.split("."))
        old, new = (HIDDEN, HIDDEN) if hidden else (_show(fa.get(k)), _show(fb.get(k)))
        if k not in fa:
            out.append(f"+ {k}: {new}")
        elif k not in fb:
            out.append(f"- {k} (was {old})")
        elif fa[k] != fb[k]:
            out.append(f"{k}: changed {HIDDEN}" if hidden else f"{k}: {old} -> {new}")
    return out


def _show(value: Any) -> str:
    return json.dumps(value, default=str)
