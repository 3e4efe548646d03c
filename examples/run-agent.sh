#!/bin/sh
# Ask for a time-boxed grant, wait for a human to approve it, then run the agent behind kgate.
#   examples/run-agent.sh NAMESPACE TTL -- AGENT ARGS…
#   examples/run-agent.sh payments 30m -- devin-agent --task "fix the failing payments job"
# Exit codes: the agent's own, or kgate's (5 grant denied, 6 nobody answered in time).
set -eu
ns=$1 ttl=$2
shift 2
[ "${1:-}" = "--" ] && shift
reason=${KGATE_REASON:-"agent run: $*"}
grant=$(kgate request --namespace "$ns" --ttl "$ttl" --reason "$reason" --wait --json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
exec kgate exec --grant "$grant" --kill-on-expiry -- "$@"
