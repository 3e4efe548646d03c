"""``python -m bench``: every benchmark in turn (start-up, masking, proxy latency/throughput)."""

from __future__ import annotations

import subprocess
import sys

for module in ("bench.startup", "bench.exec_bench", "bench.masking_bench", "bench.proxy_bench",
               "bench.audit_bench"):
    print(f"\n== {module}", flush=True)
    subprocess.run([sys.executable, "-m", module], check=True)
