"""What the dashboards and the report read and precompute: the panel only, never person-level rows.

:func:`load_panel` reads a panel file (CSV or Parquet, the columns of ``docs/design.md``) with
:func:`linkage.io.read_panel`, which refuses files that look person-level. :class:`DashboardData`
holds the panel plus everything that is costly to compute (group masks, lag profiles, which way
the link runs), built once when a dashboard starts; widget callbacks only slice and sum what it
holds.
"""

from __future__ import annotations

import io
import json
import os
import pathlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from linkage.app._cache import DiskCache, panel_fingerprint
from linkage.app._scopes import kernel_scope, restrict
from linkage.errors import InputError
from linkage.io.datasets import data_dir
from linkage.io.panel import PANEL_REQUIRED, read_panel
from linkage.privacy import suppress
from linkage.stats import choose_best_lag, direction_tests, direction_verdict, lag_profile
from linkage.stats.direction import (
    DIRECTION_TEST_COLUMNS,
    SHORT_PANEL,
    direction_order,
)
from linkage.words import period_word

__all__ = [
    "PANEL_ENV",
    "REQUIRED",
    "default_panel_path",
    "load_panel",
    "DashboardData",
    "Selection",
    "ALL",
    "MIN_DIRECTION_UNITS",
]

#: Environment variable naming the panel the dashboards read (set by ``linkage dashboard``).
PANEL_ENV = "LINKAGE_PANEL"
#: Panel columns the dashboards need.
REQUIRED = PANEL_REQUIRED
#: Option meaning "every unit".
ALL = "All units"
#: The fewest units a direction verdict is given for, whatever ``k`` (the statistics' own floor).
MIN_DIRECTION_UNITS = 3


def default_panel_path() -> pathlib.Path:
    """The panel the dashboards read: ``$LINKAGE_PANEL``, else the bundled sample panel.

    The sample panel is ``data/sample/panel.csv`` in a checkout and the package's copy of it in an
    installed wheel (:func:`linkage.io.datasets.data_dir`).

    Examples
    --------
    >>> default_panel_path().name
    'panel.csv'
    """
    env = os.environ.get(PANEL_ENV)
    if env:
        return pathlib.Path(env).expanduser()
    return data_dir() / "sample" / "panel.csv"


def load_panel(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Read a unit x period panel for the dashboards and the report.

    Parameters
    ----------
    path : str or path-like, optional
        A ``.csv`` or ``.parquet`` panel as ``linkage panel`` writes it. Default:
        :func:`default_panel_path`.

    Returns
    -------
    DataFrame
        ``unit_id`` (str), ``period`` (datetime64), counts (int64), rates (float64, recomputed from
        the counts when absent) and unit attributes (str), sorted by ``unit_id, period``.

    In a dashboard kernel of a scoped server (``linkage dashboard --scopes``) only the rows of the
    units inside the viewer's scope are returned (:func:`linkage.app._scopes.kernel_scope`, which
    waits for the server to name the viewer).

    Raises
    ------
    InputError
        Missing file or column, an unparseable period or count, or a person-level table.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "p.csv"
    >>> _ = f.write_text("unit_id,period,employee_start,employee_retained,customer_start,"
    ...                  "customer_retained,region\\n007,2024-01-01,10,9,100,80,N\\n")
    >>> p = load_panel(f)
    >>> p["unit_id"].tolist(), float(p["employee_retention"].iloc[0])
    (['007'], 0.9)
    """
    panel = read_panel(default_panel_path() if path is None else path, require=REQUIRED)
    return restrict(panel, kernel_scope())


@dataclass(frozen=True)
class Selection:
    """What a viewer has chosen: a unit attribute and its value, a period range and a lag."""

    attribute: str | None = None
    value: str = ALL
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    lag: int = 0


@dataclass
class DashboardData:
    """A panel with everything a dashboard needs precomputed once, at start.

    Parameters
    ----------
    panel : DataFrame
        From :func:`load_panel`.
    k : int
        Minimum group size for figures shown to people (``linkage.privacy``).
    max_lag : int
        Lags shown in the lag profile: ``-max_lag .. max_lag`` periods.
    n_boot : int
        Unit-bootstrap resamples for the lag profiles' intervals.
    seed : int
        Bootstrap seed (results are reproducible).

    Examples
    --------
    >>> from linkage.app._data import DashboardData, Selection, load_panel
    >>> d = DashboardData(load_panel(), n_boot=200)
    >>> d.attributes
    ['region', 'district', 'size_band']
    >>> h = d.headline(Selection(attribute="region"))
    >>> bool(0 < h["employee_now"] < 1)
    True
    """

    panel: pd.DataFrame
    k: int = 5
    max_lag: int = 6
    n_boot: int = 1000
    seed: int = 0
    _profiles: dict = field(default_factory=dict, repr=False)
    _tables: dict = field(default_factory=dict, repr=False)
    _directions: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        # a scoped dashboard kernel holds only its viewer's units, however the panel was given
        self.panel = restrict(self.panel, kernel_scope())
        self.fingerprint = panel_fingerprint(
            self.panel, self.k, self.max_lag, self.n_boot, self.seed
        )
        self.cache = DiskCache.default(self.fingerprint)
        self.periods = pd.DatetimeIndex(np.sort(self.panel["period"].unique()))
        if len(self.periods) < 3:
            raise InputError("the panel needs at least 3 periods for a dashboard", file="panel")
        self.max_lag = int(max(1, min(self.max_lag, len(self.periods) // 3)))
        attrs = [
            c
            for c in self.panel.columns
            if c not in ("unit_id", "period") and not pd.api.types.is_numeric_dtype(self.panel[c])
        ]
        # a unit attribute is constant within a unit and has 2..50 values
        self.attributes: list[str] = []
        for c in attrs:
            per_unit = self.panel.groupby("unit_id")[c].nunique()
            n_values = self.panel[c].nunique()
            if (per_unit <= 1).all() and 2 <= n_values <= 50:
                self.attributes.append(c)
        self.values = {a: sorted(self.panel[a].unique().tolist()) for a in self.attributes}
        self.units = sorted(self.panel["unit_id"].unique().tolist())
        self.unit_attrs = (
            self.panel.drop_duplicates("unit_id").set_index("unit_id")[self.attributes]
            if self.attributes
            else pd.DataFrame(index=pd.Index(self.units, name="unit_id"))
        )
        codes = pd.Categorical(self.panel["period"], categories=self.periods).codes
        self._period_code = np.asarray(codes)
        # counts as numpy arrays for fast slicing in callbacks
        self._arr = {
            c: self.panel[c].to_numpy(dtype=float)
            for c in ("employee_start", "employee_retained", "customer_start", "customer_retained")
        }
        self._masks = {
            (a, v): (self.panel[a] == v).to_numpy() for a in self.attributes for v in self.values[a]
        }
        self.full_profile = self.profile(Selection())
        best = choose_best_lag(self.full_profile)
        self.best_lag = 0 if best is None else int(best)

    # ---- slicing ---------------------------------------------------------------------------
    def default_attribute(self) -> str | None:
        """``region`` when the panel has it, else the first unit attribute (or None)."""
        if "region" in self.attributes:
            return "region"
        return self.attributes[0] if self.attributes else None

    def _group_mask(self, sel: Selection) -> np.ndarray:
        if sel.attribute is None or sel.value == ALL:
            return np.ones(len(self.panel), dtype=bool)
        if (sel.attribute, sel.value) not in self._masks:
            raise InputError(f"no units with {sel.attribute} = {sel.value!r}", column=sel.attribute)
        return self._masks[(sel.attribute, sel.value)]

    def range_codes(self, sel: Selection) -> tuple[int, int]:
        """Positions in :attr:`periods` of the selection's first and last period."""
        lo = 0 if sel.start is None else int(self.periods.searchsorted(pd.Timestamp(sel.start)))
        hi = (
            len(self.periods) - 1
            if sel.end is None
            else int(self.periods.searchsorted(pd.Timestamp(sel.end), side="right")) - 1
        )
        if hi < lo:
            raise InputError("the period range is empty", column="period")
        return lo, hi

    def rows(self, sel: Selection) -> pd.DataFrame:
        """Panel rows of the selection's group and period range (a view for plotting)."""
        lo, hi = self.range_codes(sel)
        m = self._group_mask(sel) & (self._period_code >= lo) & (self._period_code <= hi)
        return self.panel.loc[m]

    # ---- figures ---------------------------------------------------------------------------
    def _rate(self, mask: np.ndarray, side: str) -> tuple[float, float]:
        start = self._arr[f"{side}_start"][mask].sum()
        kept = self._arr[f"{side}_retained"][mask].sum()
        return (kept / start if start > 0 else np.nan), float(start)

    def headline(self, sel: Selection, *, window: int = 3) -> dict:
        """Retention over the last ``window`` periods of the range and those periods a year before.

        Returns a dict: ``employee_now``, ``employee_year_ago``, ``customer_now``,
        ``customer_year_ago`` (ratios of summed counts; NaN when there is no data or fewer than
        ``k`` people behind a figure), ``now_from``, ``now_to``, ``year_ago_from``, ``year_ago_to``
        (period starts or None), and the link at ``sel.lag`` (``r``, ``ci_low``, ``ci_high``,
        ``p_adj``, ``n_units``).
        """
        lo, hi = self.range_codes(sel)
        group = self._group_mask(sel)
        a = max(lo, hi - window + 1)
        per_year = 12 if self.freq() == "M" else 4 if self.freq() == "Q" else 1
        out: dict = {"now_from": self.periods[a], "now_to": self.periods[hi]}
        ya, yb = a - per_year, hi - per_year
        out["year_ago_from"] = self.periods[ya] if ya >= 0 else None
        out["year_ago_to"] = self.periods[yb] if yb >= 0 else None
        for side in ("employee", "customer"):
            now_mask = group & (self._period_code >= a) & (self._period_code <= hi)
            r_now, n_now = self._rate(now_mask, side)
            out[f"{side}_now"] = r_now if n_now / max(hi - a + 1, 1) >= self.k else np.nan
            if ya >= 0:
                m = group & (self._period_code >= ya) & (self._period_code <= yb)
                r_ago, n_ago = self._rate(m, side)
                out[f"{side}_year_ago"] = r_ago if n_ago / max(yb - ya + 1, 1) >= self.k else np.nan
            else:
                out[f"{side}_year_ago"] = np.nan
        prof = self.profile(sel)
        row = prof.loc[prof["lag"] == sel.lag]
        keys = ("r", "ci_low", "ci_high", "p_adj", "n_units", "n")
        out.update({k: (float(row[k].iloc[0]) if len(row) else np.nan) for k in keys})
        out["lag"] = sel.lag
        return out

    def freq(self) -> str:
        """The panel's period, ``"M"``, ``"Q"`` or ``"Y"``, from the median step between periods."""
        steps = np.diff(self.periods.to_numpy()).astype("timedelta64[D]").astype(int)
        med = float(np.median(steps)) if len(steps) else 30.0
        return "M" if med < 45 else "Q" if med < 120 else "Y"

    def profile(self, sel: Selection) -> pd.DataFrame:
        """Lag profile of the selection's group and range, cached.

        ``linkage.stats.lag_profile`` with ``period_adjusted=True``: period effects (shared trends
        and seasonality) removed, as ``linkage.stats.analyse`` reports the lead-lag link.
        """
        lo, hi = self.range_codes(sel)
        key = (sel.attribute if sel.value != ALL else None, sel.value, lo, hi)
        if key not in self._profiles:
            stored = self.cache.get(("profile", key))
            if stored is not None:
                try:
                    self._profiles[key] = pd.read_csv(io.BytesIO(stored))
                    return self._profiles[key]
                except (ValueError, pd.errors.ParserError):
                    pass
            data = self.rows(
                Selection(
                    attribute=sel.attribute,
                    value=sel.value,
                    start=self.periods[lo],
                    end=self.periods[hi],
                )
            )
            n_per = hi - lo + 1
            max_lag = int(min(self.max_lag, max(n_per // 3, 1)))
            try:
                prof = lag_profile(
                    data, max_lag=max_lag, n_boot=self.n_boot, seed=self.seed, period_adjusted=True
                )
            except InputError:
                prof = pd.DataFrame({"lag": np.arange(-max_lag, max_lag + 1)}).assign(
                    r=np.nan, ci_low=np.nan, ci_high=np.nan, p_adj=np.nan, n_units=0, n=0
                )
            self._profiles[key] = prof
            self.cache.put(("profile", key), prof.to_csv(index=False).encode())
        return self._profiles[key]

    def direction(self, sel: Selection) -> dict:
        """Which way the link runs in the selection's group and range, cached.

        The formal comparison of ``linkage.stats.analyse`` on the selection's rows:
        :func:`linkage.stats.direction_tests` (split-panel jackknife test of the difference of the
        two standardised cross-lags) at the lag order that
        :func:`linkage.stats.direction.direction_order` takes from the selection's own lag profile
        (:meth:`profile`), read by
        :func:`linkage.stats.direction_verdict` at the 5 % level. The lag filter does not change
        it. A group of fewer than ``max(k, MIN_DIRECTION_UNITS)`` units gets no verdict.

        Returns
        -------
        dict
            ``verdict`` (``employees_lead``, ``customers_lead``, ``no_clear_order``,
            ``not_tested``: too few consecutive periods, or ``too_few_units``), ``p_val``,
            ``difference``, ``ci_low``, ``ci_high``, ``order`` (None when not tested),
            ``sentence`` (the statistics' own sentence, "" without a verdict), ``n_units`` (units
            behind the test, or in the group when too few), ``min_units``, ``n_periods`` (of the
            range), ``short`` (fewer than :data:`linkage.stats.direction.SHORT_PANEL` periods:
            the verdict is less reliable) and ``step`` (``month``, ...).
        """
        lo, hi = self.range_codes(sel)
        key = (sel.attribute if sel.value != ALL else None, sel.value, lo, hi)
        if key not in self._directions:
            stored = self.cache.get(("direction", key))
            if stored is not None:
                try:
                    self._directions[key] = json.loads(stored)
                    return self._directions[key]
                except ValueError:
                    pass
            out = self._direction(sel, lo, hi)
            self._directions[key] = out
            self.cache.put(("direction", key), json.dumps(out).encode())
        return self._directions[key]

    def _direction(self, sel: Selection, lo: int, hi: int) -> dict:
        whole = Selection(sel.attribute, sel.value, self.periods[lo], self.periods[hi])
        rows = self.rows(whole)
        n_periods = hi - lo + 1
        step = period_word(self.freq())
        need = max(self.k, MIN_DIRECTION_UNITS)
        out: dict = {
            "verdict": "too_few_units",
            "p_val": None,
            "difference": None,
            "ci_low": None,
            "ci_high": None,
            "order": None,
            "sentence": "",
            "n_units": int(rows["unit_id"].nunique()),
            "min_units": need,
            "n_periods": n_periods,
            "short": n_periods < SHORT_PANEL,
            "step": step,
        }
        if out["n_units"] < need:
            return out
        best = choose_best_lag(self.profile(whole))
        order = direction_order(best, n_periods)
        try:
            tests = direction_tests(rows, order=order)
        except InputError:
            tests = pd.DataFrame(columns=DIRECTION_TEST_COLUMNS)
        v = direction_verdict(
            tests, x_label="employee retention", y_label="customer retention", step=step
        )
        if v["verdict"] != "not_tested":
            used = int(tests["n_units"].iloc[0])
            out["n_units"] = used
            if used < need:
                return out
        out.update({k: v[k] for k in ("verdict", "p_val", "difference", "ci_low", "ci_high")})
        out["order"] = v["order"]
        out["sentence"] = v["sentence"] if v["verdict"] != "not_tested" else ""
        return out

    def precompute(self, attribute: str | None = None) -> None:
        """Lag profiles and directions of every value of ``attribute`` (default:
        :meth:`default_attribute`) over the whole range: what a viewer's first choices need."""
        self.direction(Selection())
        a = self.default_attribute() if attribute is None else attribute
        if a is None:
            return
        for v in self.values[a]:
            self.profile(Selection(attribute=a, value=v))
            self.direction(Selection(attribute=a, value=v))

    def unit_table(self, sel: Selection, *, suppressed: bool = True) -> pd.DataFrame:
        """One row per unit of the selection: size, the two retention rates, quadrant.

        Rates are ratios of summed counts over the range. ``employees`` and ``customers`` are the
        average numbers at the start of a period. With ``suppressed`` (the default), units with
        fewer than ``k`` people are hidden as ``linkage.privacy.suppress`` does, complementary
        within the attribute's groups. Cached per group and range.
        """
        lo, hi = self.range_codes(sel)
        key = (sel.attribute if sel.value != ALL else None, sel.value, lo, hi, suppressed)
        if key not in self._tables:
            self._tables[key] = self._unit_table(sel, lo, hi, suppressed)
        return self._tables[key]

    @cached_property
    def _unit_cumsums(self) -> dict[str, np.ndarray]:
        """Per unit (rows, in ``self.units`` order) cumulative sums over periods of the counts and
        of the number of rows present, with a leading zero column: the sum over periods
        ``lo..hi`` is ``c[:, hi + 1] - c[:, lo]`` (sufficient statistics of any
        contiguous range)."""
        n_u, n_p = len(self.units), len(self.periods)
        uidx = pd.Categorical(self.panel["unit_id"], categories=self.units).codes.astype(np.int64)
        flat = uidx * n_p + self._period_code
        out = {}
        for name, w in (
            ("n", None),
            ("es", self._arr["employee_start"]),
            ("er", self._arr["employee_retained"]),
            ("cs", self._arr["customer_start"]),
            ("cr", self._arr["customer_retained"]),
        ):
            per = np.bincount(flat, weights=w, minlength=n_u * n_p).reshape(n_u, n_p)
            out[name] = np.concatenate([np.zeros((n_u, 1)), np.cumsum(per, axis=1)], axis=1)
        return out

    def _unit_table(self, sel: Selection, lo: int, hi: int, suppressed: bool) -> pd.DataFrame:
        sums = self._unit_cumsums
        s = {k: v[:, hi + 1] - v[:, lo] for k, v in sums.items()}
        keep = s["n"] > 0
        if sel.attribute is not None and sel.value != ALL:
            self._group_mask(sel)  # unknown values raise
            keep &= (self.unit_attrs[sel.attribute].reindex(self.units) == sel.value).to_numpy()
        s = {k: v[keep] for k, v in s.items()}
        t = pd.DataFrame(
            {"unit_id": pd.array(np.asarray(self.units, dtype=object)[keep], dtype="str")}
        )
        t["employees"] = s["es"] / s["n"]  # rounded for display after suppression, not before
        t["customers"] = s["cs"] / s["n"]
        with np.errstate(invalid="ignore", divide="ignore"):
            t["employee_retention"] = np.where(s["es"] > 0, s["er"] / s["es"], np.nan)
            t["customer_retention"] = np.where(s["cs"] > 0, s["cr"] / s["cs"], np.nan)
        if self.attributes:
            t = t.join(self.unit_attrs, on="unit_id")
        mx, my = t["employee_retention"].median(), t["customer_retention"].median()
        hi_e = t["employee_retention"] >= mx
        hi_c = t["customer_retention"] >= my
        t["quadrant"] = np.select(
            [hi_e & hi_c, ~hi_e & hi_c, ~hi_e & ~hi_c, hi_e & ~hi_c],
            [
                "staff stay, customers stay",
                "staff leave, customers stay",
                "staff leave, customers leave",
                "staff stay, customers leave",
            ],
            default="no data",
        )
        t.loc[t["employee_retention"].isna() | t["customer_retention"].isna(), "quadrant"] = (
            "no data"
        )
        cols = [
            "unit_id",
            *self.attributes,
            "employees",
            "customers",
            "employee_retention",
            "customer_retention",
            "quadrant",
        ]
        t = t[cols]
        if not suppressed:
            return t.assign(employees=t["employees"].round(1), customers=t["customers"].round(1))
        groups = [sel.attribute] if sel.attribute and sel.value == ALL else None
        out = suppress(
            t,
            count_cols=["employees", "customers"],
            k=self.k,
            value_cols=[
                "employees",
                "customers",
                "employee_retention",
                "customer_retention",
                "quadrant",
            ],
            groups=groups,
        )
        for c in ("employees", "customers"):
            num = pd.to_numeric(out[c], errors="coerce")
            out[c] = out[c].where(num.isna(), num.round(1))
        return out

    def trend_rows(self, sel: Selection) -> pd.DataFrame:
        """Panel rows of the range for the trend small multiples, grouped by ``sel.attribute``."""
        return self.rows(sel)

    @cached_property
    def unit_series(self) -> pd.DataFrame:
        """Per unit and period, the two rates with figures from fewer than ``k`` people masked."""
        p = self.panel[
            [
                "unit_id",
                "period",
                "employee_start",
                "customer_start",
                "employee_retention",
                "customer_retention",
            ]
        ].copy()
        p.loc[p["employee_start"] < self.k, "employee_retention"] = np.nan
        p.loc[p["customer_start"] < self.k, "customer_retention"] = np.nan
        return p

    def peers(self, unit_id: str, attribute: str | None) -> list[str]:
        """Units sharing ``unit_id``'s value of ``attribute`` (every other unit when None)."""
        if unit_id not in self.unit_attrs.index:
            raise InputError(f"unknown unit {unit_id!r}", column="unit_id")
        if attribute is None or attribute not in self.attributes:
            return [u for u in self.units if u != unit_id]
        v = self.unit_attrs.at[unit_id, attribute]
        same = self.unit_attrs.index[self.unit_attrs[attribute] == v]
        return [u for u in same if u != unit_id]


def labels_of(periods: Sequence[pd.Timestamp] | pd.DatetimeIndex, freq: str = "M") -> list[str]:
    """Period labels for slider options, as people write them: ``Jan 2024``, ``2024 Q1``, ``2024``.

    (The range slider shows its two ends joined by a dash; ``2023-01-2025-12`` was hard to read.)

    Examples
    --------
    >>> labels_of(pd.to_datetime(["2024-01-01", "2024-04-01"]), "Q")
    ['2024 Q1', '2024 Q2']
    >>> labels_of(pd.to_datetime(["2024-01-01"]))
    ['Jan 2024']
    """
    stamps = [pd.Timestamp(p) for p in periods]
    if freq == "Q":
        return [f"{t.year} Q{t.quarter}" for t in stamps]
    if freq == "Y":
        return [str(t.year) for t in stamps]
    return [t.strftime("%b %Y") for t in stamps]
