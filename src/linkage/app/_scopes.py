"""Each viewer their own units: the scopes file, the filter, and how a kernel learns its scope.

``linkage dashboard --scopes scopes.yaml --user-header X-Forwarded-User`` serves the dashboards
behind a proxy that authenticates people and names them in that header. The scopes file says which
units each person may see::

    users:
      alice: {region: [North]}        # any unit attribute: a list of allowed values
      carol: {region: [North, East], size_band: [large]}
      bob: all

A unit is inside a scope when, for every attribute the scope names, the unit's value is one of the
listed values (attributes combine with "and", values with "or"). ``all`` is every unit.

How the scope reaches a kernel (the viewer cannot choose it): the server resolves the person from
the header before Voila handles the request (refusing, 403, anyone without the header or not in
the file, before any kernel starts), and when the request gets its kernel it writes the person's
scope to ``<scope dir>/<kernel id>.json`` in a folder only the server writes
(:data:`SCOPE_DIR_ENV`). The kernel, preheated before any viewer arrived, waits in
:func:`kernel_scope` for that file before it reads the panel (:func:`linkage.app.load_panel` and
:class:`linkage.app.DashboardData` filter through it), so nothing outside the scope is ever held by
the kernel, let alone sent to the page. Widget messages can only pick among what the widgets
hold, and no URL parameter or header value ever reaches the filter.
"""

from __future__ import annotations

import json
import os
import pathlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import yaml

from linkage.errors import InputError

__all__ = [
    "SCOPE_DIR_ENV",
    "USERS_FILE",
    "Scope",
    "load_scopes",
    "restrict",
    "kernel_scope",
    "scope_file",
]

#: Environment variable naming the folder of the server's scope files; set, every dashboard kernel
#: shows only the units of the scope the server wrote for it (and nothing without one).
SCOPE_DIR_ENV = "LINKAGE_SCOPE_DIR"
#: The resolved scopes (person -> scope) the server reads, inside :data:`SCOPE_DIR_ENV`.
USERS_FILE = "users.json"
_KERNEL_ID_ENV = "VOILA_KERNEL_ID"


@dataclass(frozen=True)
class Scope:
    """The units one person may see: ``allowed`` maps unit attributes to allowed values (None:
    every unit).

    Examples
    --------
    >>> Scope("alice", {"region": ("North",)}).describe()
    'region North'
    >>> Scope("bob").describe()
    'all units'
    """

    user: str
    allowed: Mapping[str, tuple[str, ...]] | None = None

    def describe(self) -> str:
        """The scope in words."""
        if self.allowed is None:
            return "all units"
        return "; ".join(f"{a} {', '.join(v)}" for a, v in self.allowed.items())

    def to_json(self) -> dict[str, Any]:
        """What the server writes for a kernel (``user``, ``scope``: None or lists)."""
        scope = None if self.allowed is None else {a: list(v) for a, v in self.allowed.items()}
        return {"user": self.user, "scope": scope}

    @classmethod
    def from_json(cls, body: Any, *, file: str = "scope") -> Scope:
        """Read :meth:`to_json`'s output back; anything else raises :class:`InputError`."""
        if not isinstance(body, dict) or not isinstance(body.get("user"), str):
            raise InputError("not a viewer's scope", file=file)
        scope = body.get("scope")
        if scope is None:
            return cls(body["user"])
        if not isinstance(scope, dict) or not scope:
            raise InputError("not a viewer's scope", file=file)
        allowed = {}
        for attr, values in scope.items():
            if not isinstance(values, list) or not values:
                raise InputError(f"scope of {attr!r} is not a list of values", file=file)
            allowed[str(attr)] = tuple(str(v) for v in values)
        return cls(body["user"], allowed)


def _unit_attribute(panel: pd.DataFrame, attr: str) -> bool:
    if attr == "unit_id":
        return True
    if attr not in panel.columns or attr == "period":
        return False
    return bool((panel.groupby("unit_id")[attr].nunique(dropna=False) <= 1).all())


def restrict(panel: pd.DataFrame, scope: Scope | None) -> pd.DataFrame:
    """The panel rows of the units inside ``scope`` (all rows for None or ``all``), index reset.

    Raises
    ------
    InputError
        A scope attribute that is not a unit attribute of the panel (a column constant within
        each unit), or a scope with no unit in the panel: the viewer sees nothing rather than more.

    Examples
    --------
    >>> import pandas as pd
    >>> p = pd.DataFrame({"unit_id": ["1", "1", "2", "3"], "period": [1, 2, 1, 1],
    ...                   "region": ["N", "N", "S", "N"], "size": ["a", "a", "b", "b"]})
    >>> restrict(p, Scope("x", {"region": ("N",), "size": ("b",)}))["unit_id"].tolist()
    ['3']
    >>> len(restrict(p, Scope("y")))
    4
    """
    if scope is None or scope.allowed is None:
        return panel
    keep = pd.Series(True, index=panel.index)
    for attr, values in scope.allowed.items():
        if not _unit_attribute(panel, attr):
            raise InputError(
                f"the scope of {scope.user!r} names {attr!r}, which is not a unit attribute of "
                "the panel",
                column=attr,
            )
        keep &= panel[attr].astype(str).isin(values)
    out = panel.loc[keep.to_numpy()].reset_index(drop=True)
    if out.empty:
        raise InputError(f"no unit of the panel is inside the scope of {scope.user!r}")
    return out


def _entry_scope(user: str, entry: Any, where: str, file: str) -> Scope:
    if isinstance(entry, str) and entry.strip().lower() == "all":
        return Scope(user)
    if not isinstance(entry, dict) or not entry:
        raise InputError(
            f"entry {where}: give 'all' or unit attributes with lists of allowed values, such as "
            "{region: [North]}",
            file=file,
        )
    allowed = {}
    for attr, values in entry.items():
        if not isinstance(attr, str) or not attr:
            raise InputError(f"entry {where}: {attr!r} is not a unit attribute name", file=file)
        if isinstance(values, (str, int, float)) and not isinstance(values, bool):
            values = [values]
        if (
            not isinstance(values, list)
            or not values
            or any(isinstance(v, (bool, dict, list)) or v is None for v in values)
        ):
            raise InputError(
                f"entry {where}.{attr}: give a list of allowed values, such as [North]", file=file
            )
        allowed[attr] = tuple(str(v) for v in values)
    return Scope(user, allowed)


def load_scopes(
    path: str | os.PathLike[str], panel: pd.DataFrame | None = None
) -> dict[str, Scope]:
    """Read a scopes file: person -> :class:`Scope`.

    With ``panel``, every scope is checked against it: each attribute must be a unit attribute (a
    column constant within each unit, or ``unit_id``), each value must occur, and each scope must
    hold at least one unit (a typo would otherwise show someone nothing, or be read as a rule).

    Raises
    ------
    InputError
        Naming the file and the entry (``users.alice.region``) at fault.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "scopes.yaml"
    >>> _ = f.write_text("users:\\n  alice: {region: [North]}\\n  bob: all\\n")
    >>> s = load_scopes(f)
    >>> s["alice"].allowed, s["bob"].allowed
    ({'region': ('North',)}, None)
    >>> _ = f.write_text("users:\\n  alice: {region: North-ish}\\n")
    >>> load_scopes(f, pd.DataFrame({"unit_id": ["1"], "region": ["North"]}))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    linkage.errors.InputError: scopes.yaml: entry users.alice.region: no unit has region ...
    """
    where = pathlib.Path(path)
    name = where.name
    try:
        text = where.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError("file not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(
            f"cannot read the scopes file ({err.__class__.__name__})", file=name
        ) from None
    try:
        body = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"not valid YAML{line}", file=name) from None
    if not isinstance(body, dict) or set(body) != {"users"} or not isinstance(body["users"], dict):
        raise InputError(
            "a scopes file is one section 'users:' mapping each person to 'all' or to unit "
            "attributes with allowed values",
            file=name,
        )
    if not body["users"]:
        raise InputError("entry users: no person listed", file=name)
    scopes = {}
    for user, entry in body["users"].items():
        if not isinstance(user, str) or not user.strip() or user != user.strip():
            raise InputError(
                f"entry users.{user!r}: a person is a name as the proxy sends it (quote it)",
                file=name,
            )
        scopes[user] = _entry_scope(user, entry, f"users.{user}", name)
    if panel is not None:
        for user, scope in scopes.items():
            for attr, values in (scope.allowed or {}).items():
                if not _unit_attribute(panel, attr):
                    raise InputError(
                        f"entry users.{user}.{attr}: the panel has no unit attribute {attr!r}",
                        file=name,
                    )
                present = set(panel[attr].astype(str))
                for v in values:
                    if v not in present:
                        shown = ", ".join(sorted(present)[:12])
                        hint = " (quote values such as '001' in the file)" if v.isdigit() else ""
                        raise InputError(
                            f"entry users.{user}.{attr}: no unit has {attr} {v!r} "
                            f"(values: {shown}){hint}",
                            file=name,
                        )
            try:
                restrict(panel, scope)
            except InputError:
                raise InputError(
                    f"entry users.{user}: no unit is inside this scope", file=name
                ) from None
    return scopes


def scope_file(folder: str | os.PathLike[str], kernel_id: str) -> pathlib.Path:
    """Where the server writes the scope of the kernel ``kernel_id``."""
    if not kernel_id or not all(c.isalnum() or c == "-" for c in kernel_id):
        raise InputError(f"not a kernel id: {kernel_id!r}")
    return pathlib.Path(folder) / f"{kernel_id}.json"


_KERNEL_SCOPE: dict[tuple[str, str], Scope] = {}  # this process's scope, once read


def kernel_scope(
    env: Mapping[str, str] | None = None, *, timeout: float | None = None, poll: float = 0.05
) -> Scope | None:
    """This dashboard kernel's scope: None when the server scopes nothing (no
    :data:`SCOPE_DIR_ENV`), else the :class:`Scope` the server wrote for this kernel.

    A preheated kernel runs before any viewer arrives: it waits here until the server writes its
    scope (the viewer's request has claimed it). ``timeout`` (default: none for a preheated
    kernel, 120 s for one started for a request) bounds the wait; then, or without a kernel id,
    :class:`InputError` (the page shows one neutral line: nothing rather than everything).
    Read once per process (a kernel serves one viewer).
    """
    env = os.environ if env is None else env
    folder = env.get(SCOPE_DIR_ENV)
    if not folder:
        return None
    kernel_id = env.get(_KERNEL_ID_ENV, "")
    if (folder, kernel_id) in _KERNEL_SCOPE:
        return _KERNEL_SCOPE[(folder, kernel_id)]
    if not kernel_id:
        raise InputError("the dashboards are scoped, but this kernel has no viewer's scope")
    path = scope_file(folder, kernel_id)
    if timeout is None:
        timeout = float("inf") if env.get("VOILA_PREHEAT") == "True" else 120.0
    deadline = time.monotonic() + timeout
    while not path.is_file():
        if time.monotonic() > deadline:
            raise InputError("no viewer's scope arrived for this kernel", file=path.name)
        time.sleep(poll)
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise InputError("the viewer's scope cannot be read", file=path.name) from None
    scope = Scope.from_json(body, file=path.name)
    _KERNEL_SCOPE[(folder, kernel_id)] = scope
    return scope
