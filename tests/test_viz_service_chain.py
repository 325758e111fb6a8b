"""Chain plots: assert on the plotted data (lines, bars, interval segments, tick labels), never on pixels."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from linkage.errors import InputError  # noqa: E402
from linkage.privacy import suppress  # noqa: E402
from linkage.viz import (  # noqa: E402
    chain_plot,
    drivers_plot,
    link_label,
    plain_name,
    watchlist_plot,
    watchlist_table,
)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def links_table():
    """Rows shaped like ``linkage.stats.chain(...).links`` (three links x three methods)."""
    links = ["es_engagement -> employee_retention", "employee_retention -> customer_retention",
             "customer_retention -> revenue_retention"]
    rows = []
    for i, lk in enumerate(links):
        for j, m in enumerate(("between", "within", "best_lag")):
            r = 0.1 * (i + 1) + 0.01 * j
            rows.append({"link": lk, "method": m, "lag": 2 if m == "best_lag" else 0, "r": r,
                         "ci_low": r - 0.05, "ci_high": r + 0.05})
    return pd.DataFrame(rows)


def segments_of(collection):
    return [tuple(map(float, seg[:, 0])) + (float(seg[0, 1]),) for seg in collection.get_segments()]


def test_chain_plot_draws_each_method_link_by_link_with_intervals():
    t = links_table()
    ax = chain_plot(t)
    labels = [ln.get_label() for ln in ax.lines if not ln.get_label().startswith("_")]
    assert labels == ["between units", "within units, same period", "within units, strongest lag"]
    for line, m in zip(ax.lines[:3], ("between", "within", "best_lag"), strict=True):
        want = t.loc[t["method"] == m, "r"].to_numpy()
        np.testing.assert_allclose(line.get_xdata(), want)
        # the first link sits highest
        assert np.all(np.diff(line.get_ydata()) < 0)
    segs = segments_of(ax.collections[1])  # within units
    within = t[t["method"] == "within"]
    np.testing.assert_allclose([s[0] for s in segs], within["ci_low"])
    np.testing.assert_allclose([s[1] for s in segs], within["ci_high"])
    ticks = [tk.get_text() for tk in ax.get_yticklabels()][::-1]  # top to bottom
    assert ticks == ["Engagement score \u2192 employee retention", "Employee retention \u2192 customer retention",
                     "Customer retention \u2192 revenue retention"]
    assert sum(txt.get_text().strip() == "lag 2" for txt in ax.texts) == 3


def test_chain_plot_draws_only_the_methods_asked_and_checks_columns():
    ax = chain_plot(links_table(), methods=["best_lag"])
    assert len(ax.collections) == 1 and len(ax.lines) == 2  # points + the zero line
    with pytest.raises(InputError, match="no rows"):
        chain_plot(links_table(), methods=["pooled"])
    with pytest.raises(InputError):
        chain_plot(links_table().drop(columns="ci_low"))


def test_chain_plot_on_a_real_chain_result():
    from linkage.stats import chain

    rng = np.random.default_rng(3)
    U, T = 30, 18
    e = rng.normal(size=(U, T))
    c = 0.6 * e + rng.normal(size=(U, T))
    df = pd.DataFrame({"unit_id": np.repeat(np.arange(U), T).astype(str), "period": np.tile(np.arange(T), U),
                       "employee_retention": e.ravel(), "customer_retention": c.ravel()})
    res = chain(df, links=[("employee_retention", "customer_retention")], max_lag=1, n_boot=50, mediate=False)
    ax = chain_plot(res.links)
    within = res.links.set_index("method").loc["within"]
    assert ax.lines[1].get_xdata()[0] == pytest.approx(within["r"])


def drivers_table():
    return pd.DataFrame({"item": ["es_pay", "es_manager_support", "es_staffing"], "weight": [0.01, 0.2, 0.08],
                         "ci_low": [0.0, 0.1, 0.02], "ci_high": [0.03, 0.3, 0.15], "r": [0.1, 0.5, 0.3],
                         "r_corrected": [0.13, 0.6, 0.4], "p_adj": [0.7, 0.001, 0.03]})


def test_drivers_plot_ranks_items_and_shows_corrected_beside_measured():
    fig = drivers_plot(drivers_table())
    ax, ax2 = fig.axes
    # largest weight at the top: bars listed top down
    assert [round(float(p.get_width()), 3) for p in ax.patches] == [0.2, 0.08, 0.01]
    assert [tk.get_text() for tk in ax.get_yticklabels()][::-1] == ["Manager support", "Staffing", "Pay"]
    # significant items solid, the rest pale
    colors = [to_hex(p.get_facecolor()) for p in ax.patches]
    assert colors[0] == colors[1] != colors[2]
    segs = segments_of(ax.collections[0])
    assert [round(s[1], 3) for s in segs] == [0.3, 0.15, 0.03]
    np.testing.assert_allclose(ax2.lines[0].get_xdata(), [0.5, 0.3, 0.1])
    np.testing.assert_allclose(ax2.lines[1].get_xdata(), [0.6, 0.4, 0.13])


def test_drivers_plot_without_corrected_correlations():
    fig = drivers_plot(drivers_table().drop(columns=["r_corrected", "p_adj"]))
    lines = fig.axes[1].lines
    assert len(lines) == 2 and list(lines[1].get_xdata()) == [0, 0]  # measured r and the zero line only
    with pytest.raises(InputError):
        drivers_plot(drivers_table().iloc[:0])


def watch_table():
    return pd.DataFrame({"rank": [1, 2, 3, 4], "unit": ["s9", "s2", "s5", "s1"], "flag": [True, False, True, False],
                         "baseline": [0.98, 0.97, 0.99, 0.95], "recent": [0.88, 0.95, 0.9, 0.94],
                         "employees": [40.0, 3.0, 30.0, 25.0], "customers": [400.0, 30.0, 300.0, 250.0],
                         "expected_lost": [9.0, 4.0, 3.0, 1.0], "expected_lost_low": [7.0, 3.0, 2.0, 0.5],
                         "expected_lost_high": [11.0, 5.0, 4.0, 1.5],
                         "revenue_at_risk": [np.nan] * 4, "revenue_at_risk_low": [np.nan] * 4,
                         "revenue_at_risk_high": [np.nan] * 4})


def test_watchlist_plot_draws_suppressed_rows_without_numbers():
    wl = suppress(watch_table(), count_cols=["employees", "customers"], k=5,
                  value_cols=["baseline", "recent", "expected_lost", "expected_lost_low", "expected_lost_high"])
    ax = watchlist_plot(wl, top=3)
    widths = [float(p.get_width()) for p in ax.patches]
    assert widths[0] == 9.0 and widths[1] == 0.0  # s2 has 3 staff: suppressed, no bar
    assert any(t.get_text().strip() == "suppressed" for t in ax.texts)
    assert [tk.get_text() for tk in ax.get_yticklabels()][::-1] == ["s9", "s2", "s5"]
    assert not any("4.0" in t.get_text() for t in ax.texts)
    with pytest.raises(InputError):
        watchlist_plot(wl, top=0)


def test_watchlist_table_words_and_suppression():
    wl = suppress(watch_table(), count_cols=["employees", "customers"], k=5,
                  value_cols=["baseline", "recent", "expected_lost", "expected_lost_low", "expected_lost_high"])
    t = watchlist_table(wl, top=2)
    assert t["Unit"].tolist() == ["s9", "s2"]
    assert t["Staff retention dropped"].tolist() == ["yes", "not clearly"]
    assert t["Customers expected lost"].tolist() == ["9.0 (7.0 to 11.0)", "suppressed"]
    assert "Revenue at risk" not in t.columns  # no revenue numbers
    money = watch_table().assign(revenue_at_risk=[1200.0, 500.0, 1.0, 2.0], revenue_at_risk_low=900.0,
                                 revenue_at_risk_high=1500.0)
    assert watchlist_table(money)["Revenue at risk"].iloc[0] == "1,200 (900 to 1,500)"


def test_plain_words():
    assert plain_name("cs_csat") == "Customer satisfaction (CSAT)"
    assert plain_name("es_recognition") == "Recognition"
    assert link_label("employee_retention -> cs_csat") == "Employee retention \u2192 Customer satisfaction (CSAT)"[:21] \
        + "customer satisfaction (CSAT)"
