"""Turns one side-by-side run (benches/side-by-side/run.sh) into the results section of
docs/benchmarks.md (between its side-by-side markers), two plots (docs/benchmarks/*.png) and
the run's reports in one file (docs/benchmarks/side-by-side.json).

    python report.py RUN_DIR

Every figure is printed with its durability and settings, its ratio to the physical baseline of
the same run and to the best peer at the same durability, and the peak RSS of the server that
served it.
"""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "benchmarks.md"
ASSETS = ROOT / "docs" / "benchmarks"
BEGIN, END = "<!-- side-by-side:begin -->", "<!-- side-by-side:end -->"

NO_FSYNC = "no fsync before the answer"
FSYNC = "fsync before the answer"
PG_FSYNC = FSYNC + " (PostgreSQL fsync=on, synchronous_commit=on)"

# (id, figure, durability, metric, baseline id, peers at the same durability, target)
# metric: "MB/s" (payload bytes), "ops/s" or "rec/s".
LOG_ROWS = [
    ("fastdata-produce-1k", "fastdata broker, produce 1 KiB, acks=1, 1 producer, 4 partitions",
     NO_FSYNC + " (default topic)", "MB/s", "baseline-write",
     ["tansu-memory-produce-1k", "tansu-libsql-produce-1k", "nats-publish-1k",
      "redis-xadd-1k-everysec"],
     ">= 0.60 x baseline, >= 1.5 x best peer"),
    ("confluent-produce-1k", "confluent-kafka producer -> fastdata broker, 1 KiB, acks=1",
     NO_FSYNC + " (default topic)", "MB/s", "baseline-write", [], "outside witness"),
    ("tansu-memory-produce-1k", "Tansu 0.6 memory engine, same client and settings",
     NO_FSYNC + " (memory)", "MB/s", "baseline-write", [], "peer"),
    ("tansu-libsql-produce-1k", "Tansu 0.6 libSQL engine, same client and settings",
     NO_FSYNC + " (SQLite file)", "MB/s", "baseline-write", [], "peer"),
    ("nats-publish-1k", "NATS JetStream file stream, publish 1 KiB, ack awaited",
     NO_FSYNC + " (JetStream default sync)", "MB/s", "baseline-write", [], "peer"),
    ("redis-xadd-1k-everysec", "Redis streams XADD 1 KiB, pipelined",
     NO_FSYNC + " (appendfsync everysec)", "MB/s", "baseline-write", [], "peer"),
    ("fastdata-produce-1k-fsync", "fastdata broker, produce 1 KiB, 4 producers, 4 partitions",
     FSYNC + " (flush.messages=1)", "MB/s", "baseline-write-fdatasync",
     ["redis-xadd-1k-always", "tansu-postgres-produce-1k-fsync", "tansu-postgres-produce-1k"],
     ">= 0.60 x baseline (group commit)"),
    ("redis-xadd-1k-always", "Redis streams XADD 1 KiB, pipelined",
     FSYNC + " (appendfsync always)", "MB/s", "baseline-write-fdatasync", [], "peer"),
    ("tansu-postgres-produce-1k-fsync",
     "Tansu 0.6 PostgreSQL engine, the flush.messages=1 row's client settings (4 producers)",
     PG_FSYNC, "MB/s", "baseline-write-fdatasync", [], "peer"),
    ("tansu-postgres-produce-1k", "Tansu 0.6 PostgreSQL engine, the other Tansu rows' settings",
     PG_FSYNC, "MB/s", "baseline-write-fdatasync", [], "peer"),
    ("fastdata-produce-100b", "fastdata broker, produce 100 B, acks=1",
     NO_FSYNC + " (default topic)", "rec/s", None, [], ">= 2,000,000 rec/s (stretch)"),
    ("fastdata-consume", "fastdata broker, consume 1 KiB records from page cache",
     "-", "MB/s", None, [], ">= 1,000 MB/s"),
    ("fastdata-produce-1k-half-rate", "fastdata broker, produce 1 KiB at half the maximum",
     NO_FSYNC + " (default topic)", "MB/s", None, [], "p99 <= 5 ms"),
    ("fastdata-produce-1k-half-rate-linger0",
     "fastdata broker, produce 1 KiB at the same half rate, linger.ms 0",
     NO_FSYNC + " (default topic)", "MB/s", None, [], "p99 <= 5 ms"),
]
STORE_ROWS = [
    ("fastdata-ycsb-load", "fastdata node, YCSB load (insert 10 x 100 B) at ONE",
     NO_FSYNC + " (commitlog_sync periodic)", "ops/s", "baseline-rocksdb-put", [],
     ">= 100,000 ops/s, >= 0.40 x raw puts"),
    ("fastdata-ycsb-c", "fastdata node, YCSB C (read, zipfian) at ONE", "-", "ops/s",
     "baseline-rocksdb-get", [], ">= 60,000 ops/s"),
    ("fastdata-ycsb-a", "fastdata node, YCSB A (50/50 read/update, zipfian) at ONE",
     NO_FSYNC + " (commitlog_sync periodic)", "ops/s", None, [], "-"),
    ("fastdata-ycsb-load-half-rate", "fastdata node, inserts at half the maximum, at ONE",
     NO_FSYNC + " (commitlog_sync periodic)", "ops/s", None, [], "p99 <= 2 ms"),
    ("latte-write", "latte (scylla driver) -> fastdata node, inserts at ONE",
     NO_FSYNC + " (commitlog_sync periodic)", "ops/s", "baseline-rocksdb-put", [],
     "outside witness"),
    ("latte-read", "latte (scylla driver) -> fastdata node, reads at ONE", "-", "ops/s",
     "baseline-rocksdb-get", [], "outside witness"),
]
BASELINE_ROWS = [
    ("baseline-write", "64 KiB sequential write_all, 1 file", "none (page cache)", "MB/s"),
    ("baseline-write-fdatasync", "64 KiB write_all + fdatasync, 1 file", "fdatasync each",
     "MB/s"),
    ("baseline-write-fdatasync-4", "64 KiB write_all + fdatasync, 4 files, 4 threads",
     "fdatasync each", "MB/s"),
    ("baseline-rocksdb-put", "RocksDB put 1000 B, the node's options, 512 MiB block cache, 2 threads",
     "WAL, no sync", "ops/s"),
    ("baseline-rocksdb-get", "RocksDB get 1000 B, the node's options, 512 MiB block cache, 2 threads",
     "-", "ops/s"),
]


def load(run):
    reports = {}
    for f in sorted((run / "results").glob("*.json")):
        try:
            reports[f.stem] = json.loads(f.read_text())
        except (OSError, ValueError) as e:
            print(f"skipping {f}: {e}", file=sys.stderr)
    return reports


def value(report, metric):
    if metric == "MB/s":
        return report["bytes_per_sec"] / 1e6
    return report["ops_per_sec"]


def fmt(v, metric):
    if metric == "MB/s":
        return f"{v:,.0f} MB/s" if v >= 100 else f"{v:,.1f} MB/s"
    return f"{v:,.0f} {metric}"


def latency(report):
    rows = report.get("latency") or []
    if not rows:
        return "-"
    r = max(rows, key=lambda r: r["count"])
    ms = lambda us: f"{us / 1000:.2f}"  # noqa: E731
    return f"{ms(r['p50_us'])} / {ms(r['p99_us'])} / {ms(r['p999_us'])}"


def rss(run, rid):
    """The peak RSS of the figure's server; "a+b": servers that served it together."""
    try:
        servers = (run / "server" / rid).read_text().strip().split("+")
        kib = sum(int((run / "rss" / s).read_text().strip()) for s in servers)
        return f"{kib / 1024:,.0f} MiB"
    except (OSError, ValueError):
        return "-"


def settings(report):
    keep = ("pace", "in flight", "producers", "linger.ms", "batch.size", "compression", "acks",
            "consistency", "distribution", "durability", "flush")
    s = report.get("settings", {})
    return "; ".join(f"{k} {s[k]}" for k in keep if k in s)


def ratio(reports, rid, other, metric):
    if other not in reports or rid not in reports:
        return "-"
    base = value(reports[other], metric)
    return f"{value(reports[rid], metric) / base:.2f}" if base > 0 else "-"


def best_peer(reports, peers, metric):
    present = [p for p in peers if p in reports and reports[p].get("errors", 0) == 0]
    return max(present, key=lambda p: value(reports[p], metric), default=None)


def table(run, reports, rows):
    out = ["| figure | durability | result | latency p50 / p99 / p99.9 ms | vs baseline "
           "| vs best peer | target | server peak RSS |",
           "|---|---|---|---|---|---|---|---|"]
    for rid, label, durability, metric, base, peers, target in rows:
        if rid not in reports:
            skipped = run / "skipped" / rid
            why = skipped.read_text().strip() if skipped.exists() \
                else "not measured (see the run's logs)"
            out.append(f"| {label} | {durability} | {why} | - | - | - | {target} | - |")
            continue
        r = reports[rid]
        peer = best_peer(reports, peers, metric)
        vs_peer = f"{ratio(reports, rid, peer, metric)} ({peer})" if peer else "-"
        vs_base = f"{ratio(reports, rid, base, metric)} ({base})" if base else "-"
        result = fmt(value(r, metric), metric)
        if metric == "MB/s":
            result += f" ({r['ops_per_sec']:,.0f} rec/s)"
        if r.get("errors"):
            result += f", {r['errors']} errors"
        out.append(f"| {label} | {durability} | {result} | {latency(r)} | {vs_base} "
                   f"| {vs_peer} | {target} | {rss(run, rid)} |")
    return out


def baselines(reports):
    out = ["| baseline | durability | result | latency p50 / p99 / p99.9 ms |",
           "|---|---|---|---|"]
    for rid, label, durability, metric in BASELINE_ROWS:
        r = reports.get(rid)
        result = fmt(value(r, metric), metric) if r else "not measured"
        out.append(f"| {label} | {durability} | {result} | {latency(r) if r else '-'} |")
    return out


def plots(reports):
    ASSETS.mkdir(parents=True, exist_ok=True)
    groups = [("MB/s", [r for r in LOG_ROWS if r[3] == "MB/s" and "half" not in r[0]]
               + [(b[0], b[1], b[2], b[3], None, [], "") for b in BASELINE_ROWS if b[3] == "MB/s"]),
              ("ops/s", [r for r in STORE_ROWS if "half" not in r[0]]
               + [(b[0], b[1], b[2], b[3], None, [], "") for b in BASELINE_ROWS if b[3] == "ops/s"])]
    fig, axes = plt.subplots(1, 2, figsize=(15, 6))
    for ax, (metric, rows) in zip(axes, groups):
        present = [r for r in rows if r[0] in reports]
        names = [r[0] for r in present]
        values = [value(reports[n], metric) for n in names]
        colors = ["#888888" if n.startswith("baseline") else
                  "#1f77b4" if n.startswith(("fastdata", "confluent", "latte")) else "#ff7f0e"
                  for n in names]
        ax.barh(names, values, color=colors)
        ax.set_xlabel(metric)
        ax.invert_yaxis()
        ax.set_title(f"throughput ({metric}); grey: baselines, blue: fastdata, orange: peers")
    fig.tight_layout()
    fig.savefig(ASSETS / "throughput.png", dpi=90)
    plt.close(fig)

    with_latency = [(rid, reports[rid]) for rid, *_ in LOG_ROWS + STORE_ROWS
                    if rid in reports and reports[rid].get("latency")]
    fig, ax = plt.subplots(figsize=(12, 6))
    width = 0.27
    for i, (q, key) in enumerate([("p50", "p50_us"), ("p99", "p99_us"), ("p99.9", "p999_us")]):
        ys = [max(r["latency"], key=lambda l: l["count"])[key] / 1000 for _, r in with_latency]
        ax.barh([j + i * width for j in range(len(with_latency))], ys, height=width, label=q)
    ax.set_yticks([j + width for j in range(len(with_latency))])
    ax.set_yticklabels([rid for rid, _ in with_latency])
    ax.set_xscale("log")
    ax.set_xlabel("latency, ms (log scale)")
    ax.invert_yaxis()
    ax.legend()
    ax.set_title("latency percentiles (closed loop at the maximum unless 'half-rate')")
    fig.tight_layout()
    fig.savefig(ASSETS / "latency.png", dpi=90)
    plt.close(fig)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    run = Path(sys.argv[1])
    reports = load(run)
    machine = (run / "machine.txt").read_text().strip().splitlines() \
        if (run / "machine.txt").exists() else []
    lines = [BEGIN, "", "### The last run", ""]
    lines += [f"- {m}" for m in machine]
    lines += ["", "Physical baselines (a small Rust program of ours, "
              "`benches/side-by-side` `files` and `rocksdb`):", ""]
    lines += baselines(reports)
    lines += ["", "The log (1 KiB values unless stated; our load generator `fastdata bench log`):", ""]
    lines += table(run, reports, LOG_ROWS)
    lines += ["", "The store (YCSB's usertable: 10 fields of 100 B, 200,000 records; `fastdata bench store`; "
              "the node with a 512 MiB block cache):", ""]
    lines += table(run, reports, STORE_ROWS)
    lines += ["", "Settings of each figure:", ""]
    for rid, r in reports.items():
        lines.append(f"- `{rid}`: {r['name']}; {settings(r)}")
    lines += ["", "![throughput](benchmarks/throughput.png)", "",
              "![latency](benchmarks/latency.png)", "", END]
    plots(reports)
    (ASSETS / "side-by-side.json").write_text(json.dumps(reports, indent=1) + "\n")
    text = DOC.read_text()
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + "\n".join(lines) + text[text.index(END) + len(END):]
    else:
        text = text.rstrip() + "\n\n## Side by side\n\n" + "\n".join(lines) + "\n"
    DOC.write_text(text)
    print("\n".join(lines))
    print(f"\nwrote {DOC.relative_to(ROOT)} and {ASSETS.relative_to(ROOT)}/", file=sys.stderr)


if __name__ == "__main__":
    main()
