"""Value objects for the modules every call imports, without `dataclasses`.

`dataclasses` imports `inspect` (and with it ast, dis, tokenize): more than the rest of a
STATUS call costs. A record names its fields in `__slots__` and writes its own `__init__`;
this base gives it equality, hashing (a record of hashable fields can key a dict) and a
repr from those fields.
"""

from __future__ import annotations


class Record:
    __slots__ = ()

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._values() == self._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"
