"""Turns latte's JSON report (`latte run -o FILE`) into the load generator's report shape, so
the side-by-side report treats latte's figures like ours.

    python latte_report.py LATTE.json FUNCTION OUT.json

latte keeps each statistic as a mean with an error estimate ({"n", "value", "std_err"}) and its
latency percentiles, in milliseconds, in the order of `Percentile` in its src/stats/percentiles.rs
(min, 1, 2, 5, 10, 25, 50, 75, 90, 95, 98, 99, 99.9, 99.99, max).
"""

import json
import sys

PERCENTILES = [0, 1, 2, 5, 10, 25, 50, 75, 90, 95, 98, 99, 99.9, 99.99, 100]


def mean(m):
    return m["value"] if isinstance(m, dict) else float(m)


def main():
    raw, function, out = sys.argv[1:4]
    r = json.load(open(raw))
    stats = r["result"]
    latency = stats.get("request_latency") or stats["cycle_latency"]
    p = [mean(x) for x in latency["percentiles"]]
    us = lambda q: int(p[PERCENTILES.index(q)] * 1000)  # noqa: E731
    seconds = stats["elapsed_time_s"]
    report = {
        "name": f"latte run -f {function}",
        "settings": {
            "client": "latte 0.29 (scylla driver)",
            "consistency": "ONE",
            "in flight": f"{r['conf'].get('concurrency', '?')} per thread, "
                         f"{r['conf'].get('threads', '?')} thread(s)",
            "pace": "closed loop",
            "record size": "bigint key, 1000 B blob",
        },
        "ops": stats["cycle_count"],
        "errors": stats["error_count"],
        "first_error": (stats.get("errors") or [None])[0],
        "seconds": seconds,
        "ops_per_sec": mean(stats["cycle_throughput"]),
        "bytes_per_sec": mean(stats["cycle_throughput"]) * 1000,
        "latency": [{
            "kind": function,
            "count": stats["cycle_count"],
            "mean_us": mean(latency["mean"]) * 1000,
            "p50_us": us(50),
            "p99_us": us(99),
            "p999_us": us(99.9),
            "max_us": us(100),
        }],
    }
    json.dump(report, open(out, "w"), indent=2)
    sys.exit(1 if report["errors"] else 0)


if __name__ == "__main__":
    main()
