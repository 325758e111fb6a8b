"""A small on-disk cache shared by every dashboard kernel serving the same panel.

Voila starts one kernel per viewer; without a shared cache each kernel would redraw the same figures
and rerun the same bootstraps. Entries are keyed by a fingerprint of the panel's contents, the
settings and the package version, so a changed panel or setting never reads stale entries. Writes
are atomic (temporary file, then ``os.replace``); an unreadable entry is simply recomputed. Only
bytes are stored (PNG images, CSV tables): nothing is unpickled.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import tempfile

import pandas as pd

from linkage import __version__

__all__ = ["CACHE_ENV", "DiskCache", "panel_fingerprint"]

#: Environment variable naming the cache folder; "off" disables the cache.
CACHE_ENV = "LINKAGE_CACHE"
#: Bump when what is cached changes shape.
_SCHEMA = "3"


def _code_version() -> str:
    """Hash of the modules that draw and compute cached entries (new code never reads old ones)."""
    here = pathlib.Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in (
        here / "_render.py",
        here / "_data.py",
        here.parent / "viz" / "_plots.py",
        here.parent / "viz" / "_aggregate.py",
        here.parent / "stats" / "lags.py",
        here.parent / "stats" / "direction.py",
        here.parent / "stats" / "_fe.py",
        here.parent / "words.py",
    ):
        try:
            h.update(path.read_bytes())
        except OSError:
            h.update(path.name.encode())
    return h.hexdigest()[:12]


_CODE = _code_version()


def panel_fingerprint(panel: pd.DataFrame, *extra: object) -> str:
    """A short hash of a panel's contents (and any settings in ``extra``).

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"x": [1, 2]})
    >>> same = panel_fingerprint(a) == panel_fingerprint(a.copy())
    >>> same, panel_fingerprint(a) == panel_fingerprint(a, 5)
    (True, False)
    """
    h = hashlib.sha256()
    h.update(",".join(map(str, panel.columns)).encode())
    h.update(pd.util.hash_pandas_object(panel, index=False).to_numpy().tobytes())
    h.update(repr((extra, __version__, _SCHEMA, _CODE)).encode())
    return h.hexdigest()[:24]


class DiskCache:
    """Bytes by key under ``root/<fingerprint>/``; a no-op when ``root`` is None.

    Examples
    --------
    >>> import tempfile
    >>> c = DiskCache(tempfile.mkdtemp(), "abc")
    >>> c.get(("fig", 1)) is None
    True
    >>> c.put(("fig", 1), b"png")
    >>> c.get(("fig", 1))
    b'png'
    """

    def __init__(self, root: str | os.PathLike[str] | None, fingerprint: str) -> None:
        self.dir = None if root is None else pathlib.Path(root) / fingerprint

    @classmethod
    def default(cls, fingerprint: str) -> DiskCache:
        """The cache in ``$LINKAGE_CACHE`` (``off`` disables it), else ``~/.cache/linkage``."""
        env = os.environ.get(CACHE_ENV)
        if env and env.lower() == "off":
            return cls(None, fingerprint)
        root = (
            pathlib.Path(env) if env else pathlib.Path.home() / ".cache" / "linkage" / "dashboards"
        )
        return cls(root, fingerprint)

    def _path(self, key: object) -> pathlib.Path | None:
        if self.dir is None:
            return None
        return self.dir / hashlib.sha1(repr(key).encode()).hexdigest()

    def get(self, key: object) -> bytes | None:
        """The bytes stored under ``key``, or None."""
        path = self._path(key)
        if path is None:
            return None
        try:
            return path.read_bytes()
        except OSError:
            return None

    def put(self, key: object, value: bytes) -> None:
        """Store ``value`` under ``key`` atomically; failures (read-only disk ...) are ignored."""
        path = self._path(key)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(value)
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        except OSError:
            return
