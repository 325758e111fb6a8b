"""Plots: assert on the plotted data (lines, collections, images), never on pixels."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from linkage.errors import InputError  # noqa: E402
from linkage.viz import (  # noqa: E402
    funnel_limits,
    funnel_plot,
    heatmap,
    lag_profile_plot,
    quadrant_plot,
    rate_table,
    trend_grid,
    unit_plot,
)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def toy_panel(units=6, periods=4, seed=0):
    """A tiny panel with the design's count columns, built inline."""
    rng = np.random.default_rng(seed)
    ids = [f"u{i}" for i in range(units)]
    per = pd.date_range("2024-01-01", periods=periods, freq="MS")
    es = rng.integers(5, 30, units * periods)
    cs = es * 20
    p = pd.DataFrame({
        "unit_id": np.repeat(ids, periods), "period": np.tile(per, units),
        "employee_start": es, "employee_retained": rng.binomial(es, 0.9),
        "customer_start": cs, "customer_retained": rng.binomial(cs, 0.8),
        "region": np.repeat(np.array(["N", "S", "E"])[np.arange(units) % 3], periods),
    })
    p["employee_retention"] = p["employee_retained"] / p["employee_start"]
    p["customer_retention"] = p["customer_retained"] / p["customer_start"]
    return p


def test_rate_table_is_ratio_of_sums_not_mean_of_rates():
    p = pd.DataFrame({"g": ["a", "a"], "employee_retained": [1, 90], "employee_start": [2, 100]})
    out = rate_table(p, by="g", rates=["employee_retention"])
    assert out["employee_retention"].iloc[0] == pytest.approx(91 / 102)  # not (0.5 + 0.9) / 2
    assert out["employee_start"].iloc[0] == 102


def test_rate_table_zero_denominator_is_nan_not_zero():
    p = pd.DataFrame({"g": ["a"], "employee_retained": [0], "employee_start": [0]})
    assert np.isnan(rate_table(p, by="g", rates=["employee_retention"])["employee_retention"].iloc[0])


def test_funnel_limits_match_normal_approximation_for_large_n():
    # reference: normal approximation p0 +/- z sqrt(p0 (1 - p0) / n), z = 1.959964 (95%), 3.090232 (99.8%)
    n = np.array([2000.0, 5000.0])
    for cov, z in ((0.95, 1.959964), (0.998, 3.090232)):
        lo, hi = funnel_limits(0.9, n, coverage=cov)
        se = np.sqrt(0.9 * 0.1 / n)
        np.testing.assert_allclose(lo, 0.9 - z * se, atol=0.002)
        np.testing.assert_allclose(hi, 0.9 + z * se, atol=0.002)


def test_funnel_limits_narrow_with_size_and_stay_in_unit_interval():
    lo, hi = funnel_limits(0.95, np.array([5.0, 20.0, 80.0, 320.0]))
    assert np.all(np.diff(hi - lo) < 0)
    assert lo.min() >= 0 and hi.max() <= 1


def test_lag_profile_plot_draws_r_and_intervals_and_labels_employees_lead():
    prof = pd.DataFrame({"lag": [2, -1, 0, 1, -2], "r": [0.1, 0.0, 0.2, 0.4, -0.1],
                         "ci_low": [-0.1, -0.2, 0.0, 0.2, -0.3], "ci_high": [0.3, 0.2, 0.4, 0.6, 0.1]})
    ax = lag_profile_plot(prof, best=1)
    assert ax.lines[0].get_xdata().tolist() == [-2, -1, 0, 1, 2]
    assert ax.lines[0].get_ydata().tolist() == [-0.1, 0.0, 0.2, 0.4, 0.1]
    segs = ax.collections[0].get_segments()
    assert [tuple(s[:, 1]) for s in segs] == [(-0.3, 0.1), (-0.2, 0.2), (0.0, 0.4), (0.2, 0.6), (-0.1, 0.3)]
    texts = [t.get_text() for t in ax.texts]
    assert any("employees lead" in t for t in texts)
    # the "employees lead" label sits on the right, where k > 0
    lead = next(t for t in ax.texts if "employees lead" in t.get_text())
    assert lead.get_position()[0] > 0.5


def test_lag_profile_plot_missing_column():
    with pytest.raises(InputError) as err:
        lag_profile_plot(pd.DataFrame({"lag": [0], "r": [0.1]}))
    assert err.value.column == "ci_low"


def test_trend_grid_one_panel_per_region_with_ratio_of_sums():
    p = toy_panel()
    expect = rate_table(p, by=["region", "period"])
    e_rows = expect.loc[expect["region"] == "E"]
    fig = trend_grid(p, by="region")
    assert isinstance(fig, Figure)
    assert [a.get_title() for a in fig.axes] == ["E", "N", "S"]
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), e_rows["employee_retention"])
    np.testing.assert_allclose(fig.axes[0].lines[1].get_ydata(), e_rows["customer_retention"])
    assert fig.axes[0].get_ylim() == fig.axes[2].get_ylim()  # one scale everywhere
    g = 3
    fig = trend_grid(p, by="region", twin=True)
    assert [a.get_title() for a in fig.axes[:g]] == ["E", "N", "S"]
    np.testing.assert_allclose(fig.axes[g].lines[0].get_ydata(), e_rows["customer_retention"])


def test_trend_grid_redraws_into_given_figure():
    fig = Figure()
    trend_grid(toy_panel(), by="region", fig=fig)
    trend_grid(toy_panel().query("region == 'N'"), by="region", fig=fig)
    assert [a.get_title() for a in fig.axes] == ["N"]


def test_quadrant_plot_points_and_median_lines():
    u = pd.DataFrame({"unit_id": list("abcde"), "employee_retention": [0.9, 0.8, 0.95, 0.85, np.nan],
                      "customer_retention": [0.7, 0.6, 0.8, 0.9, 0.5], "employee_start": [5, 10, 20, 40, 9]})
    ax = quadrant_plot(u, size="employee_start", highlight=["c"])
    offsets = ax.collections[0].get_offsets()
    assert offsets.shape == (4, 2)  # the unit without a rate is left out
    np.testing.assert_allclose(offsets[:, 0], [0.9, 0.8, 0.95, 0.85])
    assert ax.lines[0].get_xdata()[0] == pytest.approx(0.875)
    assert ax.lines[1].get_ydata()[0] == pytest.approx(0.75)
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "staff stay,\ncustomers leave" in texts and "c" in texts


def test_funnel_plot_points_centre_and_limits():
    u = pd.DataFrame({"unit_id": list("abc"), "employee_retention": [0.9, 0.8, 1.0],
                      "employee_start": [100, 10, 40]})
    ax = funnel_plot(u)
    np.testing.assert_allclose(ax.collections[0].get_offsets()[:, 0], [100, 10, 40])
    assert ax.lines[0].get_ydata()[0] == pytest.approx(138 / 150)  # (90 + 8 + 40) / 150
    lo95, hi95, lo998, hi998 = (ax.lines[i].get_ydata() for i in (1, 2, 3, 4))
    assert not np.isnan(lo95).any() and np.all(lo998 <= lo95) and np.all(hi95 <= hi998)


def test_heatmap_array_is_units_by_periods_sorted_by_mean():
    p = toy_panel(units=3, periods=2)
    ax = heatmap(p, value="employee_retention")
    arr = ax.images[0].get_array()
    assert arr.shape == (3, 2)
    means = arr.mean(axis=1)
    assert np.all(np.diff(means) >= 0)
    wide = p.pivot(index="unit_id", columns="period", values="employee_retention")
    assert sorted(map(tuple, np.round(arr, 12).tolist())) == sorted(map(tuple, np.round(wide.to_numpy(), 12).tolist()))


def test_heatmap_masks_missing_rates():
    p = toy_panel(units=2, periods=2)
    p.loc[0, "employee_retention"] = np.nan
    ax = heatmap(p, order="id")
    assert ax.images[0].get_array().mask[0, 0]


def test_unit_plot_series_and_peer_band():
    p = toy_panel(units=5, periods=3)
    ax = unit_plot(p, unit_id="u2")
    mine = p.loc[p["unit_id"] == "u2"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), mine["employee_retention"])
    np.testing.assert_allclose(ax.lines[1].get_ydata(), mine["customer_retention"])
    others = p.loc[p["unit_id"] != "u2"]
    q25 = others.groupby("period")["employee_retention"].quantile(0.25).to_numpy()
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert np.isclose(band[:, None], q25[None, :]).any(axis=0).all()


def test_unit_plot_unknown_unit():
    with pytest.raises(InputError, match="not in the data"):
        unit_plot(toy_panel(), unit_id="zzz")


def test_plots_do_not_mutate_input():
    p = toy_panel()
    before = p.copy()
    trend_grid(p)
    heatmap(p)
    unit_plot(p, unit_id="u1")
    pd.testing.assert_frame_equal(p, before)


def test_trend_grid_hides_points_from_fewer_than_min_n_people():
    p = toy_panel(units=3, periods=2)
    p.loc[(p["region"] == "N") & (p["period"] == p["period"].min()), "employee_start"] = 2
    fig = trend_grid(p, by="region", min_n=5)
    y = fig.axes[1].lines[0].get_ydata()  # region N, the second panel
    assert np.isnan(y[0]) and not np.isnan(y[1])


def _labels(axis, fig) -> list[str]:
    fig.canvas.draw()
    return [t.get_text() for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]


def test_percent_ticks_are_distinct_and_evenly_stepped():
    # a narrow range (98.2%..99.1%) gave "99%, 99%, 98%, 98%" with a 0-decimal PercentFormatter
    p = pd.DataFrame({"region": ["N"] * 3, "period": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]),
                      "employee_retained": [982, 987, 991], "employee_start": [1000] * 3,
                      "customer_retained": [985, 989, 990], "customer_start": [1000] * 3})
    fig = trend_grid(p)
    labels = _labels(fig.axes[0].yaxis, fig)
    assert len(labels) >= 3 and len(set(labels)) == len(labels), labels
    values = np.array([float(t.rstrip("%")) for t in labels])
    steps = np.round(np.diff(values), 6)
    assert len(set(steps.tolist())) == 1, labels  # labels as printed are evenly spaced
    plt.close(fig)


def test_funnel_percent_ticks_are_distinct_and_evenly_stepped():
    u = pd.DataFrame({"unit_id": list("abcdef"),
                      "employee_retention": [0.95, 0.9, 0.87, 0.92, 0.85, 0.94],
                      "employee_start": [40, 60, 80, 100, 30, 50]})
    ax = funnel_plot(u)
    labels = _labels(ax.yaxis, ax.figure)
    values = np.array([float(t.rstrip("%")) for t in labels])
    assert len(set(labels)) == len(labels) >= 3, labels
    assert len(set(np.round(np.diff(values), 6).tolist())) == 1, labels
    plt.close(ax.figure)


def test_step_percent_formatter_decimals_follow_the_step():
    from linkage.viz._plots import StepPercentFormatter

    f = StepPercentFormatter()
    assert f.format_ticks([0.9, 0.925, 0.95]) == ["90.0%", "92.5%", "95.0%"]
    assert f.format_ticks([0.98, 0.985, 0.99]) == ["98.0%", "98.5%", "99.0%"]
    assert f.format_ticks([0.2, 0.4, 0.6]) == ["20%", "40%", "60%"]
    assert f.format_ticks([0.9991, 0.9992]) == ["99.91%", "99.92%"]
