"""Selection methods behind one registry (DESIGN §6).

Each method lives in its own module and registers its class by name with
``@register_selector("name")``; :data:`SELECTOR_MODULES` maps a name to the module that
defines it, so :func:`get_selector` imports only the method asked for (LLM methods pull
in their engines lazily). A new method is one module plus one line in that table (or,
for a plug-in outside setsel, :func:`register_selector_module`).

Example:
    >>> from setsel.selection import get_selector, list_selectors
    >>> "topk" in list_selectors()
    True
    >>> sel = get_selector("topk", k=3)
    >>> sel.options.k, sel.options.fallback
    (3, 'topk:3')
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Any

from setsel.selection.base import Selector, SelectorError, SelectorOptions, shuffle_candidates

# name -> module defining it (imported on first use). Names use '_'; '-' is accepted too.
SELECTOR_MODULES: dict[str, str] = {
    "topk": "setsel.selection.topk",
    "setr": "setsel.selection.setr",
    "optiset": "setsel.selection.optiset",
    "listwise": "setsel.selection.listwise",
    "cross_encoder": "setsel.selection.cross_encoder",
    "mmr": "setsel.selection.mmr",
    "lexical": "setsel.selection.lexical",
    "llm_head": "setsel.selection.llm_head",
}

_REGISTRY: dict[str, type[Selector]] = {}


def _norm(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise SelectorError(f"selection method must be a non-empty string, got {name!r}")
    return name.strip().lower().replace("-", "_")


def register_selector(name: str) -> Callable[[type[Selector]], type[Selector]]:
    """Class decorator: register a :class:`Selector` subclass under ``name``."""
    key = _norm(name)

    def decorate(cls: type[Selector]) -> type[Selector]:
        if not (isinstance(cls, type) and issubclass(cls, Selector)):
            raise SelectorError(f"@register_selector({name!r}) needs a Selector subclass, got {cls!r}")
        existing = _REGISTRY.get(key)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise SelectorError(f"selection method {key!r} is already registered by {existing.__module__}")
        cls.name = key
        _REGISTRY[key] = cls
        return cls

    return decorate


def register_selector_module(name: str, module: str) -> None:
    """Make ``name`` load lazily from ``module`` (which must ``@register_selector(name)``)."""
    SELECTOR_MODULES[_norm(name)] = module


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def list_selectors() -> list[str]:
    """Names of the methods available in this installation (registered or importable)."""
    names = set(_REGISTRY) | {n for n, m in SELECTOR_MODULES.items() if _available(m)}
    return sorted(names)


def get_selector_class(name: str) -> type[Selector]:
    """The class registered as ``name``, importing its module on first use."""
    key = _norm(name)
    if key not in _REGISTRY:
        module = SELECTOR_MODULES.get(key)
        if module is None:
            raise SelectorError(f"unknown selection method {name!r}; available: {', '.join(list_selectors())}")
        if not _available(module):
            raise SelectorError(f"selection method {name!r} is not available in this installation "
                                f"(module {module} not found); available: {', '.join(list_selectors())}")
        importlib.import_module(module)
        if key not in _REGISTRY:
            raise SelectorError(f"module {module} does not register selection method {key!r}")
    return _REGISTRY[key]


def get_selector(name: str, **options: Any) -> Selector:
    """Build the selector ``name`` with ``options`` (common: k, max_passages, fallback, shuffle_seed, seed).

    Raises:
        SelectorError: unknown method, or an option the method does not take (the message
            lists the valid ones), or an invalid option value.
    """
    cls = get_selector_class(name)
    return cls(cls.options_cls.from_options(cls.name, **options))


__all__ = [
    "SELECTOR_MODULES",
    "Selector",
    "SelectorError",
    "SelectorOptions",
    "get_selector",
    "get_selector_class",
    "list_selectors",
    "register_selector",
    "register_selector_module",
    "shuffle_candidates",
]
