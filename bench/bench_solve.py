"""The solve benchmark as a program: same as ``kernelfit bench solve``.

    python bench/bench_solve.py --n 12000 20000 40000 60000 --json bench/results/solve.json
"""

import sys

from kernelfit.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "solve", *sys.argv[1:]]))
