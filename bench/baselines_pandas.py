"""The docs/metrics.md metric set in idiomatic pandas, for the benchmark's pandas baseline.

Same integer tables as `baselines_sql` (as DataFrames). Intervals are rows [s, e);
intersections are merges on the key followed by an overlap filter. Not part of the
installed package.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from baselines_sql import FOREVER


def _overlap(a: pd.DataFrame, b: pd.DataFrame, on: str, keep: list[str]) -> pd.DataFrame:
    m = a.merge(b, on=on, suffixes=("", "_b"))
    m = m[(m["s_b"] < m["e"]) & (m["s"] < m["e_b"])]
    return pd.DataFrame(
        {
            **{c: m[c].to_numpy() for c in keep},
            "s": np.maximum(m["s"], m["s_b"]),
            "e": np.minimum(m["e"], m["e_b"]),
        }
    )


def sets(t: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    ev = t["ev"].sort_values("rn").drop_duplicates(["node", "seq"], keep="first")
    desk_ev = ev[ev.kind == 0].sort_values(["desk", "ts", "seq"])
    desk_ev = desk_ev.assign(
        nxt=desk_ev.groupby("desk").ts.shift(-1).fillna(FOREVER).astype("int64")
    )
    o = desk_ev[(desk_ev.state == 1) & (desk_ev.nxt > desk_ev.ts)]
    o = pd.DataFrame({"desk": o.desk.to_numpy(), "s": o.ts.to_numpy(), "e": o.nxt.to_numpy()})
    node_ev = ev[ev.kind != 0].sort_values(["node", "ts", "seq"]).merge(t["node_t"], on="node")
    nxt = node_ev.groupby("node").ts.shift(-1)
    end = np.minimum(
        node_ev.ts + node_ev.cover_ms, nxt.fillna(node_ev.ts + node_ev.cover_ms)
    ).astype("int64")
    c = pd.DataFrame({"node": node_ev.node, "s": node_ev.ts, "e": end})[
        (node_ev.kind == 1) & (end > node_ev.ts)
    ]
    # Consecutive alives touch: merge them into islands first.
    brk = (~(c.s <= c.groupby("node").e.shift(1))).astype(int)
    c = (
        c.assign(grp=brk.groupby(c.node).cumsum())
        .groupby(["node", "grp"])
        .agg(s=("s", "min"), e=("e", "max"))
    )
    c = c.reset_index()[["node", "s", "e"]]
    dc = t["desk_t"].merge(c, on="node")[["desk", "site", "s", "e"]]
    bk = t["bk"].sort_values(["desk", "s", "e"])
    prev_end = bk.groupby("desk").e.transform(lambda e: e.cummax().shift(1))
    grp = (~(bk.s <= prev_end)).astype(int).groupby(bk.desk).cumsum()
    k = (
        bk.assign(grp=grp)
        .groupby(["desk", "grp"])
        .agg(s=("s", "min"), e=("e", "max"))
        .reset_index()[["desk", "s", "e"]]
    )
    hc = _overlap(dc, t["h_t"], "site", ["desk", "site"])
    hco = _overlap(hc, o, "desk", ["desk", "site"])
    hk = _overlap(
        k.merge(t["desk_t"][["desk", "site"]], on="desk"), t["h_t"], "site", ["desk", "site"]
    )
    hck = _overlap(hc, k, "desk", ["desk", "site"])
    hcko = _overlap(hck, o, "desk", ["desk", "site"])
    return {"o": o, "dc": dc, "hc": hc, "hco": hco, "hk": hk, "hck": hck, "hcko": hcko}


def desk_metrics(t: dict[str, pd.DataFrame], x: dict[str, pd.DataFrame]) -> pd.DataFrame:
    grid = t["desk_t"][["desk", "site"]].merge(t["bucket_t"], on="site")
    out = grid[["desk", "bucket"]].copy()
    for name, part in (
        ("observed_s", "hc"),
        ("occupied_s", "hco"),
        ("booked_s", "hk"),
        ("booked_observed_s", "hck"),
        ("booked_occupied_s", "hcko"),
    ):
        m = _overlap(x[part], t["bucket_t"], "site", ["desk", "bucket"])
        sums = (m.e - m.s).groupby([m.desk, m.bucket]).sum().rename(name).reset_index()
        out = out.merge(sums, on=["desk", "bucket"], how="left")
        out[name] = out[name].fillna(0).astype("int64") // 1000
    return out.sort_values(["desk", "bucket"]).reset_index(drop=True)


def booking_outcomes(
    t: dict[str, pd.DataFrame], x: dict[str, pd.DataFrame], noshow_ms: int
) -> pd.DataFrame:
    bk = t["bk"]
    oc = _overlap(x["dc"], x["o"], "desk", ["desk"])
    obs = _overlap(bk, x["dc"], "desk", ["b"])
    occ = _overlap(bk, oc, "desk", ["b"])
    out = bk[["b", "s", "e"]].copy()
    out = out.merge(
        (obs.e - obs.s).groupby(obs.b).sum().rename("obs").reset_index(), on="b", how="left"
    )
    out = out.merge(
        (occ.e - occ.s).groupby(occ.b).sum().rename("occ").reset_index(), on="b", how="left"
    )
    out = out.fillna({"obs": 0, "occ": 0}).astype({"obs": "int64", "occ": "int64"})
    dur = out.e - out.s
    out["outcome"] = np.where(
        2 * out.obs < dur, 0, np.where((out.occ < noshow_ms) & (2 * out.occ < dur), 1, 2)
    )
    out["observed_s"] = out.obs // 1000
    out["occupied_s"] = out.occ // 1000
    return out.sort_values("b")[["b", "observed_s", "occupied_s", "outcome"]].reset_index(drop=True)


def site_days(t: dict[str, pd.DataFrame], x: dict[str, pd.DataFrame]) -> pd.DataFrame:
    pd_ = _overlap(x["hco"], t["day_t"][["site", "day", "s", "e"]], "site", ["site", "day"])
    pts = pd.concat(
        [
            pd.DataFrame({"site": pd_.site, "day": pd_.day, "t": pd_.s, "delta": 1}),
            pd.DataFrame({"site": pd_.site, "day": pd_.day, "t": pd_.e, "delta": -1}),
        ]
    ).sort_values(["site", "day", "t", "delta"], kind="stable")
    g = pts.groupby(["site", "day"])
    pts["cnt"] = g.delta.cumsum()
    pts["nt"] = g.t.shift(-1)
    peaks = pts.groupby(["site", "day"]).cnt.max().rename("peak").reset_index()
    firsts = pts.merge(peaks, on=["site", "day"])
    firsts = (
        firsts[(firsts.cnt == firsts.peak) & (firsts.peak > 0)]
        .groupby(["site", "day"])
        .t.min()
        .rename("at")
    )
    together = pts[(pts.cnt >= 2) & pts.nt.notna()]
    together = (together.nt - together.t).groupby([together.site, together.day]).sum().rename("ms")
    out = t["day_t"][["site", "day", "open"]].merge(peaks, on=["site", "day"], how="left")
    out = out.merge(firsts.reset_index(), on=["site", "day"], how="left")
    out = out.merge(together.reset_index(), on=["site", "day"], how="left")
    out = out.fillna({"peak": 0, "at": -1, "ms": 0}).astype(
        {"peak": "int64", "at": "int64", "ms": "int64"}
    )
    out["copresence_s"] = out.ms // 1000
    return out.sort_values(["site", "day"]).reset_index(drop=True)


def desks_needed(days: pd.DataFrame, sites: list[int], p_num: int, p_den: int) -> list[int]:
    out = []
    for s in sites:
        peaks = np.sort(days[(days.site == s) & days.open].peak.to_numpy())
        n = len(peaks)
        out.append(
            int(peaks[max(1, (p_num * n + 100 * p_den - 1) // (100 * p_den)) - 1]) if n else 0
        )
    return out
