"""The benchmark suite: `make bench` (or `python -m bench`) measures face search, memory search, ingest,
signaling and the pages side by side with their floors and peers, and writes docs/benchmarks.md."""
