"""Lazy package exports: `from package import Name` loads the submodule only when asked.

Packages whose submodules import httpx, pydantic or SQLAlchemy use this so that importing a light
sibling (e.g. `paystack.signatures`) does not load the heavy ones.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A module-level `__getattr__` for `package`, mapping each name to its submodule."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        globals_of_package = vars(importlib.import_module(package))
        globals_of_package[name] = value  # cache: the next access is a plain attribute
        return value

    return __getattr__
