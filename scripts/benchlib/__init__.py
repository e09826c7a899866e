"""spaak-sim benchmarks (scripts/bench): each section measures the project against a peer
in the same run and prints a compact table with ratios; nothing passes or fails on time."""
