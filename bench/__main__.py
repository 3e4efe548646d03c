"""``python -m bench [NAME …] [--quick] [--json PATH] [--compare PATH] [--profile]``.

With no NAME, every benchmark in turn (start-up, exec, masking, proxy, session log); with names
(``startup``, ``exec``, ``masking``, ``proxy``, ``audit``), only those. The options are the proxy
bench's (``python -m bench.proxy_bench --help``) and go to it alone; each other module keeps its
own options (``python -m bench.<module> --help``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys

MODULES = {"startup": "bench.startup", "exec": "bench.exec_bench",
           "masking": "bench.masking_bench", "proxy": "bench.proxy_bench",
           "audit": "bench.audit_bench"}


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", metavar="NAME",
                    help=f"one of {', '.join(MODULES)} (default: all)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--compare")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    unknown = [n for n in args.names if n not in MODULES]
    if unknown:
        ap.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(MODULES)}")
    proxy_args = [*(["--quick"] if args.quick else []),
                  *(["--json", args.json] if args.json else []),
                  *(["--compare", args.compare] if args.compare else []),
                  *(["--profile"] if args.profile else [])]
    for name in args.names or list(MODULES):
        print(f"\n== {MODULES[name]}", flush=True)
        extra = proxy_args if name == "proxy" else []
        subprocess.run([sys.executable, "-m", MODULES[name], *extra], check=True)


if __name__ == "__main__":
    main()
