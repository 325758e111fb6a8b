"""Reference values for tests/test_stats_*.py, computed with pingouin (the reference implementation).

Run from the repository root:  .venv/bin/python tests/reference/make_stats_reference.py
It writes tests/reference/stats_reference.json. The random panels are generated here from fixed
seeds and rebuilt identically by tests/test_stats_correlation.py (``random_panel``).

pingouin 0.7.0: ``rm_corr`` (ANCOVA-based rmcorr, Bakdash & Marusich 2017), ``corr`` (Pearson),
``partial_corr``. Published rmcorr value for the Bland & Altman (1995) data: r = -0.50677, dof 38,
CI95 [-0.71, -0.23] (R package rmcorr documentation; pingouin's docstring).
"""

import json
import pathlib

import numpy as np
import pandas as pd
import pingouin as pg

OUT = pathlib.Path(__file__).with_name("stats_reference.json")


def random_panel(seed: int, n_units: int = 12, n_periods: int = 9, drop: float = 0.15) -> pd.DataFrame:
    """An unbalanced panel with unit effects on both measures and a within-unit link."""
    rng = np.random.default_rng(seed)
    u = np.repeat(np.arange(n_units), n_periods)
    t = np.tile(np.arange(n_periods), n_units)
    a = rng.normal(size=n_units)[u]
    x = a + rng.normal(size=u.size)
    y = -2 * a + 0.4 * x + rng.normal(size=u.size)
    z = rng.normal(size=u.size)
    region = np.array(["north", "south", "east"])[u % 3]
    df = pd.DataFrame({"unit_id": [f"u{i:02d}" for i in u], "period": t, "x": x, "y": y + 0.3 * z, "z": z,
                       "region": region})
    keep = rng.random(u.size) >= drop
    return df.loc[keep].reset_index(drop=True)


def main() -> None:
    ref = {}
    bland = pg.read_dataset("rm_corr")
    r = pg.rm_corr(bland, x="pH", y="PacO2", subject="Subject")
    c = pg.corr(bland["pH"], bland["PacO2"])
    ref["bland_altman"] = {"rm_r": float(r["r"].iloc[0]), "rm_dof": int(r["dof"].iloc[0]),
                           "rm_p": float(r["pval"].iloc[0]), "rm_ci": list(map(float, r["CI95"].iloc[0])),
                           "pooled_r": float(c["r"].iloc[0]), "pooled_p": float(c["p_val"].iloc[0])}
    ref["random"] = []
    for seed in range(5):
        df = random_panel(seed)
        r = pg.rm_corr(df, x="x", y="y", subject="unit_id")
        c = pg.corr(df["x"], df["y"])
        means = df.groupby("unit_id")[["x", "y"]].mean()
        b = pg.corr(means["x"], means["y"])
        dummies = pd.get_dummies(df["region"], prefix="region", drop_first=True, dtype=float)
        pdf = pd.concat([df, dummies], axis=1)
        pc = pg.partial_corr(pdf, x="x", y="y", covar=["z", *dummies.columns])
        ref["random"].append({
            "seed": seed, "n": len(df),
            "rm_r": float(r["r"].iloc[0]), "rm_dof": int(r["dof"].iloc[0]), "rm_p": float(r["pval"].iloc[0]),
            "pooled_r": float(c["r"].iloc[0]), "pooled_p": float(c["p_val"].iloc[0]),
            "between_r": float(b["r"].iloc[0]), "between_p": float(b["p_val"].iloc[0]),
            "partial_r": float(pc["r"].iloc[0]), "partial_p": float(pc["p_val"].iloc[0]),
        })
    OUT.write_text(json.dumps(ref, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
