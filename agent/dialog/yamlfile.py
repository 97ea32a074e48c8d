"""Line-aware YAML reading: every mapping and list remembers where its items are in the file.

The knowledge-base and template loaders use :class:`Fields` to read typed values; a missing
field or a wrong type raises :class:`KbError` whose message names the file, the line and the
field path, e.g. ``yunfan.yaml:23: editions[1].price_cny_per_seat_year must be a number``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tierline.core.errors import TierlineError


class KbError(TierlineError, ValueError):
    """A knowledge-base or template file is malformed; the message names field and line."""


class LineMap(dict):
    """A YAML mapping with the 1-based line of itself (``line``) and of each key (``lines``)."""

    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[Any, int] = {}


class LineList(list):
    """A YAML sequence with its own line and the line of each item."""

    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[int] = []


class _Loader(yaml.SafeLoader):
    pass


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> LineMap:
    loader.flatten_mapping(node)
    out = LineMap()
    out.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise KbError(f"line {line}: a key must be a plain value")
        if key in out:
            raise KbError(f"line {line}: duplicate key '{key}' (first on line {out.lines[key]})")
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = line
    return out


def _construct_list(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    out = LineList()
    out.line = node.start_mark.line + 1
    for item in node.value:
        out.append(loader.construct_object(item, deep=True))
        out.lines.append(item.start_mark.line + 1)
    return out


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_list)


def read_yaml(path: str | Path) -> LineMap:
    """Parse a YAML file whose top level is a mapping.

    Raises:
        KbError: missing/unreadable file, YAML syntax error (with its line), duplicate keys,
            or a top level that is not a mapping.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KbError(f"knowledge base file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KbError(f"cannot read {path}: {exc}") from None
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    except KbError as exc:
        raise KbError(f"{path}:{str(exc).removeprefix('line ')}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise KbError(f"{path}:{line}: invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise KbError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, LineMap):
        raise KbError(f"{path}:1: the top level must be a mapping of fields")
    return data


def _type_name(value: Any) -> str:
    return {LineMap: "a mapping", LineList: "a list"}.get(type(value), repr(value))


class Fields:
    """Typed access to one YAML mapping, naming file, line and field path in every error.

    Args:
        path: File the mapping came from.
        data: The mapping.
        where: Field path of the mapping (``""`` at the top).
    """

    def __init__(self, path: Path, data: Any, where: str = "", line: int = 0) -> None:
        self.path = path
        self.where = where
        self.key_line = line
        if not isinstance(data, LineMap):
            raise self.error(line or getattr(data, "line", 0),
                             f"{where or 'top level'} must be a mapping, got {_type_name(data)}")
        self.data = data

    def error(self, line: int, message: str) -> KbError:
        return KbError(f"{self.path}:{line}: {message}")

    def _name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def has(self, key: str) -> bool:
        return key in self.data

    def line(self, key: str) -> int:
        return self.data.lines.get(key, self.data.line)

    def raw(self, key: str) -> Any:
        if key not in self.data:
            where = self.where or "top level"
            raise self.error(self.key_line or self.data.line,
                             f"{where}: missing field '{self._name(key)}'")
        return self.data[key]

    def text(self, key: str, default: str | None = None) -> str:
        if default is not None and key not in self.data:
            return default
        value = self.raw(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise self.error(self.line(key), f"{self._name(key)} must be non-empty text, got "
                                             f"{_type_name(value)}")
        return value.strip()

    def number(self, key: str, minimum: float = 0.0, maximum: float | None = None) -> float:
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(self.line(key),
                             f"{self._name(key)} must be a number, got {_type_name(value)}")
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum:g} and {maximum:g}" if maximum is not None else \
                f"at least {minimum:g}"
            raise self.error(self.line(key), f"{self._name(key)} must be {bound}, got {value}")
        return float(value)

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.raw(key)
        if not isinstance(value, LineList) or not value:
            raise self.error(self.line(key),
                             f"{self._name(key)} must be a non-empty list of text")
        out = []
        for i, item in enumerate(value):
            if isinstance(item, (int, float)) and not isinstance(item, bool):
                item = str(item)
            if not isinstance(item, str) or not item.strip():
                raise self.error(value.lines[i], f"{self._name(key)}[{i}] must be text, got "
                                                 f"{_type_name(item)}")
            out.append(item.strip())
        return tuple(out)

    def sub(self, key: str) -> Fields:
        return Fields(self.path, self.raw(key), self._name(key), self.line(key))

    def items(self, key: str) -> list[Fields]:
        """Each element of a non-empty list of mappings."""
        value = self.raw(key)
        if not isinstance(value, LineList) or not value:
            raise self.error(self.line(key), f"{self._name(key)} must be a non-empty list")
        return [Fields(self.path, item, f"{self._name(key)}[{i}]", value.lines[i])
                for i, item in enumerate(value)]

    def names(self) -> list[str]:
        return [str(k) for k in self.data]
