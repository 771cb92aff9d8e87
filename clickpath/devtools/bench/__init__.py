"""The benchmarks (`make bench*`): each drives the real roles on a scratch data directory."""

# The benchmarks' roles run outside the demo, so they need keys of the accepted length; these
# are public and protects nothing (a benchmark's data is synthetic and thrown away).
BENCH_PSEUDONYM_KEY = "clickpath-bench-key-public-synthetic-data-only"
BENCH_MASTER_KEY = "clickpath-bench-master-key-public-synthetic-data-only"
