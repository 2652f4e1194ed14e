"""`python -m bench --size smoke|small|full [--only face,memory,...] [--out docs/benchmarks.md]`."""

from bench.run import main

if __name__ == "__main__":
    main()
