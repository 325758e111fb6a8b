"""Calibration of the within-unit tests and intervals on null and planted worlds.

Run:  nice -n 10 .venv/bin/python benchmarks/calibration_study.py            (full table, slow)
      .venv/bin/python benchmarks/calibration_study.py --quick                (development)

Worlds (a direct generator, vectorised over worlds; documented here so the study stands alone):
G units x 24 months. Unit u has ``n_u`` staff and ``8 n_u`` customers; "equal" sizes: 20 staff
everywhere, "unequal": staff drawn uniformly from 4..80 per unit. Latent monthly logits follow a
stationary AR(1) with persistence ``rho`` (0, 0.5, 0.9) and sd 0.5 around logit(0.97) (staff) and
logit(0.95) (customers); the customer latent series is ``beta * a_u(t) + sqrt(1 - beta**2) *
b_u(t)`` with ``a`` the employee series (beta 0 on null worlds, 0.6 on planted worlds, lag 0). The
observed rates are binomial: retained / at start, independently each month. Every method sees only
the observed rates.

The quantity every interval claims to cover is the within-unit r (and slope) of the *observed*
rates: the limit of the estimator ``sum_u Cxy_u / sqrt(sum_u Cxx_u * sum_u Cyy_u)`` as units grow
with the same design, computed once per design from 100,000 simulated units (its own Monte Carlo
error is about 0.002).

Methods (all on the per-unit centred sums ``Cxx_u, Cyy_u, Cxy_u`` of ``linkage.stats.lags``):

- ``t``: rmcorr's t-test on ``n - G - 1`` (and its Fisher-z interval);
- ``cluster``: the unit-clustered slope t with ``G / (G - 1)`` and ``G - 1`` dof;
- ``cr2``: CR2 (bias-reduced linearisation) scores ``s_u / sqrt(1 - h_u)``, ``h_u = Cxx_u /
  sum Cxx``, with Bell & McCaffrey's (2002) degrees of freedom; the slope interval is
  ``b +/- t * se``; r's p-value and interval come from the unit influence of r on the Fisher-z
  scale, adjusted the same way (one statistic, so the interval excludes 0 exactly when p < 0.05);
- ``wild``: wild cluster bootstrap-t with the null imposed (Webb's six-point weights,
  399 resamples per world), p-value only.

Lags -6..6 as a family: a pairs cluster bootstrap-t max (units resampled with replacement, as
``linkage.stats.bootstrap``; in every resample r at each lag is centred at the estimate on
Fisher's z scale and studentized with the resample's own clustered standard error); the 95 % quantile of the
largest |t*| over lags is the critical value ``c`` of the simultaneous bands (``z_k +/- c *
se_k`` on Fisher's z for r, clustered se) and of the step-down (Romano-Wolf) adjusted p-values.
"band": all 13 true lag correlations inside at once; "any best": the share of worlds where some
lag's adjusted p is below 5 %, i.e. where ``linkage`` would report a best lag (with a step-down
procedure that happens exactly when the largest |z / se| over lags exceeds ``c``); "any holm": the same with the
clustered p-values Holm-adjusted (the rule before this study). Two alternatives were tried and
dropped in development runs (2,000 worlds a cell): a wild cluster bootstrap max-t with the null
imposed (Webb weights, CR2-studentized) reported a best lag on 5.0-8.1 % of null worlds, and a
multiplier bootstrap of the influences without studentizing each resample covered 84-93 %.

Every rate is printed with its Monte Carlo standard error ``sqrt(p (1 - p) / worlds)``.
"""

from __future__ import annotations

import argparse
import functools
import time
import zlib

import numpy as np
from scipy import stats as st

T = 24
K = 6
LAGS = np.arange(-K, K + 1)
WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])


def unit_counts(rng: np.random.Generator, B: int, G: int) -> np.ndarray:
    """How often each of G units is drawn in each of B resamples (as linkage.stats.bootstrap)."""
    d = rng.integers(0, G, size=(B, G)) + (np.arange(B) * G)[:, None]
    return np.bincount(d.ravel(), minlength=B * G).reshape(B, G).astype(float)


def sizes(rng: np.random.Generator, R: int, G: int, design: str) -> np.ndarray:
    if design == "equal":
        return np.full((R, G), 20)
    return rng.integers(4, 81, size=(R, G))


def latent(rng: np.random.Generator, shape: tuple[int, ...], rho: float) -> np.ndarray:
    """Stationary AR(1) with unit variance along the last axis."""
    e = rng.standard_normal(shape)
    out = np.empty(shape)
    out[..., 0] = e[..., 0]
    s = np.sqrt(1 - rho**2)
    for t in range(1, shape[-1]):
        out[..., t] = rho * out[..., t - 1] + s * e[..., t]
    return out


def worlds(rng: np.random.Generator, R: int, G: int, design: str, rho: float, beta: float):
    n = sizes(rng, R, G, design)
    a = latent(rng, (R, G, T), rho)
    b = latent(rng, (R, G, T), rho)
    c = beta * a + np.sqrt(1 - beta**2) * b
    pe = 1 / (1 + np.exp(-(np.log(0.97 / 0.03) + 0.5 * a)))
    pc = 1 / (1 + np.exp(-(np.log(0.95 / 0.05) + 0.5 * c)))
    X = rng.binomial(n[..., None], pe) / n[..., None]
    m = 8 * n
    Y = rng.binomial(m[..., None], pc) / m[..., None]
    return X, Y


def sums(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-unit centred sums at each lag: arrays (R, G, L)."""
    out = [np.empty(X.shape[:2] + (len(LAGS),)) for _ in range(3)]
    for j, k in enumerate(LAGS):
        a, b = (X[..., : T - k], Y[..., k:]) if k >= 0 else (X[..., -k:], Y[..., : T + k])
        da = a - a.mean(-1, keepdims=True)
        db = b - b.mean(-1, keepdims=True)
        out[0][..., j] = (da * da).sum(-1)
        out[1][..., j] = (db * db).sum(-1)
        out[2][..., j] = (da * db).sum(-1)
    return out[0], out[1], out[2]


@functools.lru_cache(maxsize=None)
def truth(design: str, rho: float, beta: float, seed: int = 99) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    acc = [np.zeros(len(LAGS)) for _ in range(3)]
    for _ in range(20):
        X, Y = worlds(rng, 1, 5000, design, rho, beta)
        for s, C in zip(acc, sums(X, Y)):
            s += C.sum((0, 1))
    Sxx, Syy, Sxy = acc
    return Sxy / np.sqrt(Sxx * Syy), Sxy / Sxx


def bm_df(h: np.ndarray) -> np.ndarray:
    """Bell-McCaffrey dof of a one-regressor CR2 test from the units' leverages (sum over axis 1)."""
    q = h**2
    d = q.sum(1) + (q / (1 - h)).sum(1) ** 2 - (q**2 / (1 - h) ** 2).sum(1)
    return 1 / d


def analyse_worlds(Cxx, Cyy, Cxy, rng, n_boot: int):
    """Everything per world: dict of arrays (R, L) or (R,)."""
    R, G, L = Cxx.shape
    Sxx, Syy, Sxy = Cxx.sum(1), Cyy.sum(1), Cxy.sum(1)
    r = Sxy / np.sqrt(Sxx * Syy)
    b = Sxy / Sxx
    n = G * (T - np.abs(LAGS))
    out = {"r": r, "b": b}
    # rmcorr t
    dof = n - G - 1
    tt = r * np.sqrt(dof / (1 - r**2))
    out["p_t"] = 2 * st.t.sf(np.abs(tt), dof)
    z = np.arctanh(r)
    out["z_t"] = (z, np.broadcast_to(1 / np.sqrt(dof - 1), z.shape), np.full(z.shape, np.inf))
    # analytic cluster
    s = Cxy - b[:, None, :] * Cxx
    se_cl = np.sqrt(G / (G - 1) * (s**2).sum(1)) / Sxx
    out["p_cluster"] = 2 * st.t.sf(np.abs(b / se_cl), G - 1)
    out["b_cluster"] = (b, se_cl, np.full(b.shape, G - 1.0))
    # CR2 + Bell-McCaffrey
    h = Cxx / Sxx[:, None, :]
    df = bm_df(h)
    adj = 1 / np.sqrt(1 - h)
    se_b = np.sqrt(((s * adj) ** 2).sum(1)) / Sxx
    out["b_cr2"] = (b, se_b, df)
    psi = (Cxy / np.sqrt(Sxx * Syy)[:, None, :] - r[:, None, :] / 2 * (
        Cxx / Sxx[:, None, :] + Cyy / Syy[:, None, :])) * adj / (1 - r[:, None, :] ** 2)
    se_z = np.sqrt((psi**2).sum(1))
    out["z_cr2"] = (z, se_z, df)
    out["p_cr2"] = 2 * st.t.sf(np.abs(z / se_z), df)
    # wild cluster bootstrap-t, null imposed, Webb weights: unit scores under H0 are Cxy_u
    V = WEBB[rng.integers(0, 6, size=(n_boot, G))]
    t_obs = b / se_cl
    bs = np.matmul(V, Cxy) / Sxx[:, None, :]
    sxy2 = np.matmul(V**2, Cxy**2)
    cross = np.matmul(V, Cxy * Cxx)
    ss = sxy2 - 2 * bs * cross + bs**2 * (Cxx**2).sum(1)[:, None, :]
    t_star = bs / (np.sqrt(G / (G - 1) * np.maximum(ss, 1e-300)) / Sxx[:, None, :])
    out["p_wild"] = (1 + (np.abs(t_star) >= np.abs(t_obs)[:, None, :]).sum(1)) / (n_boot + 1)
    # lags as a family: pairs cluster bootstrap-t max (units resampled, every resample's slope t
    # at each lag centred at the estimate and studentized with its own clustered se)
    Wc = unit_counts(rng, n_boot, G)
    k = G / (G - 1)
    S_xx, S_yy, S_xy = np.matmul(Wc, Cxx), np.matmul(Wc, Cyy), np.matmul(Wc, Cxy)
    a_ = 1 / np.sqrt(S_xx * S_yy)
    rs = S_xy * a_
    ss_p = (a_**2 * np.matmul(Wc, Cxy**2)
            + (rs / 2) ** 2 * (np.matmul(Wc, Cxx**2) / S_xx**2 + np.matmul(Wc, Cyy**2) / S_yy**2
                               + 2 * np.matmul(Wc, Cxx * Cyy) / (S_xx * S_yy))
            - rs * a_ * (np.matmul(Wc, Cxy * Cxx) / S_xx + np.matmul(Wc, Cxy * Cyy) / S_yy))
    se_p = np.sqrt(k * np.maximum(ss_p, 1e-300)) / (1 - rs**2)
    tp = np.abs(np.arctanh(rs) - z[:, None, :]) / se_p
    mx = tp.max(2)
    # the critical value linkage uses: max |t| > c exactly when the Romano-Wolf p of the largest
    # statistic, (1 + #{max t* >= t}) / (B + 1), is below 5 % (stats.lags.family_critical_value)
    m = int(np.ceil(0.05 * (n_boot + 1) - 1e-9)) - 2
    c_p = -np.sort(-mx, axis=1)[:, m]
    se_zc = np.sqrt(G / (G - 1) * ((psi * np.sqrt(1 - h)) ** 2).sum(1))
    out["band_w"] = (z, se_zc, c_p)
    out["any_w"] = (np.abs(z) / se_zc).max(1) > c_p
    # step-down (Romano-Wolf): some lag is rejected <=> the largest |t| beats the family's
    # critical value, so "any best lag" is this event
    p_holm = np.minimum(1, np.sort(out["p_cluster"], 1) * np.arange(L, 0, -1))
    out["any_holm"] = p_holm.min(1) < 0.05
    return out


def cell(G: int, design: str, rho: float, beta: float, R: int, n_boot: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    true_r, true_b = truth(design, rho, beta)
    j0 = K  # lag 0
    chunk = max(1, min(R, 200_000 // G))
    acc: dict[str, list] = {}
    done = 0
    while done < R:
        m = min(chunk, R - done)
        X, Y = worlds(rng, m, G, design, rho, beta)
        o = analyse_worlds(*sums(X, Y), rng, n_boot)
        rows = {}
        for name in ("t", "cluster", "cr2", "wild"):
            rows[f"rej_{name}"] = o[f"p_{name}"][:, j0] < 0.05
        for name, key, target in (
            ("r_t", "z_t", np.arctanh(true_r[j0])),
            ("r_cr2", "z_cr2", np.arctanh(true_r[j0])),
            ("b_cluster", "b_cluster", true_b[j0]),
            ("b_cr2", "b_cr2", true_b[j0]),
        ):
            est, se, df = o[key]
            crit = st.t.ppf(0.975, df[:, j0])
            rows[f"cov_{name}"] = np.abs(est[:, j0] - target) <= crit * se[:, j0]
        z, se, c = o["band_w"]
        rows["band_w"] = (np.abs(z - np.arctanh(true_r)[None, :]) <= c[:, None] * se).all(1)
        rows["any_w"] = o["any_w"]
        rows["any_holm"] = o["any_holm"]
        for k, v in rows.items():
            acc.setdefault(k, []).append(np.asarray(v, dtype=float))
        done += m
    res = {k: np.concatenate(v) for k, v in acc.items()}
    return {"true_r": float(true_r[j0]), **{k: float(v.mean()) for k, v in res.items()}, "R": R}


def fmt(p: float, R: int) -> str:
    return f"{100 * p:5.1f}±{100 * np.sqrt(p * (1 - p) / R):.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few worlds and cells (development)")
    ap.add_argument("--worlds", type=int, default=2000)
    ap.add_argument("--boot", type=int, default=399)
    ap.add_argument("--units", type=int, nargs="*", default=[8, 15, 30, 50, 100, 200])
    args = ap.parse_args()
    units, R, rhos = args.units, args.worlds, (0.0, 0.5, 0.9)
    if args.quick:
        units, R, rhos = [8, 30], 300, (0.0, 0.9)
    t0 = time.perf_counter()
    print(f"{R} worlds per cell (fewer at 200 units: see R), 24 months, lags -6..6; "
          "rates in % with Monte Carlo s.e.")
    for beta, label in ((0.0, "NULL worlds: rejection at 5 % of lag 0"),
                        (0.6, "PLANTED worlds (latent r 0.6 at lag 0): coverage of 95 % intervals")):
        print(f"\n{label}")
        if beta == 0:
            head = ["t(rmcorr)", "cluster", "cr2", "wild", "cov r cr2", "cov b cr2", "band",
                    "any best", "any holm"]
        else:
            head = ["cov r t", "cov r cr2", "cov b clus", "cov b cr2", "band", "true r"]
        print(f"{'units':>5} {'sizes':>8} {'rho':>4} {'R':>5} " + " ".join(f"{h:>10}" for h in head))
        for G in units:
            for design in ("equal", "unequal"):
                for rho in rhos:
                    Rc = R if G <= 100 else max(1000, R // 2)
                    o = cell(G, design, rho, beta, Rc, args.boot, seed=zlib.crc32(repr((G, design, rho, beta)).encode()))
                    if beta == 0:
                        vals = [fmt(o[k], Rc) for k in ("rej_t", "rej_cluster", "rej_cr2", "rej_wild",
                                                         "cov_r_cr2", "cov_b_cr2", "band_w", "any_w",
                                                         "any_holm")]
                    else:
                        vals = [fmt(o[k], Rc) for k in ("cov_r_t", "cov_r_cr2", "cov_b_cluster",
                                                         "cov_b_cr2", "band_w")] + [f"{o['true_r']:.3f}"]
                    print(f"{G:>5} {design:>8} {rho:>4} {Rc:>5} " + " ".join(f"{v:>10}" for v in vals),
                          flush=True)
    print(f"\n{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
