#!/usr/bin/env python3
"""Benchmark: ``surveytools.codes.check_codes`` on 1,000,000 random valid component IDs (cjt).

Timed: one call of ``check_codes("component_id", codes, profile)`` (set-up not timed), best of
three.  Target: under 2 s on the 2-core machine.  Peer, measured in the same run: the obvious
per-row Python check (``parse_code`` on every ID) on the first 100,000 IDs, scaled to 1M.

Usage: python benchmarks/bench_codes.py [--n N]
Writes benchmarks/results/codes.json.
"""
import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    args = ap.parse_args()
    import numpy as np
    import pandas as pd

    from surveytools.admin import divisions
    from surveytools.codes import check_codes, parse_code
    from surveytools.profiles import load_profile

    p = load_profile("cjt")
    rng = np.random.default_rng(0)
    counties = np.array(sorted(divisions().county_codes))
    classes = p.component_classes["code"].to_numpy()
    n = args.n
    codes = pd.Series(np.char.add(np.char.add(rng.choice(counties, n).astype("U6"), rng.choice(classes, n).astype("U4")),
                                  np.char.zfill(rng.integers(1, 999999, n).astype("U6"), 6)))
    times = []
    for _ in range(3):
        t = time.perf_counter()
        out = check_codes("component_id", codes, p)
        times.append(time.perf_counter() - t)
        assert out.empty
    m = min(n, 100_000)
    t = time.perf_counter()
    for c in codes.iloc[:m]:
        parse_code("component_id", c, p)
    per_row = (time.perf_counter() - t) * n / m
    res = {"n": n, "check_codes_s": round(min(times), 3), "per_row_parse_code_s_scaled": round(per_row, 2),
           "target_s": 2.0, "met": min(times) < 2.0}
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "codes.json").write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
