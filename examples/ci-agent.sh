#!/bin/sh
# A CI job's agent: preview namespaces are approved automatically by examples/policies/ci-agent.yaml,
# so no human is needed; the session log is exported next to the job's artifacts.
#   examples/ci-agent.sh preview-pr-123 -- ./deploy-preview.sh
set -eu
ns=$1
shift
[ "${1:-}" = "--" ] && shift
policy=$(dirname "$0")/policies/ci-agent.yaml
grant=$(kgate request --policy "$policy" --namespace "$ns" --ttl 30m --reason "CI ${CI_JOB_ID:-local}" --json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
status=0
kgate exec --grant "$grant" --policy "$policy" -- "$@" || status=$?
kgate sessions export "$(kgate sessions list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')" \
    --format k8s-audit > kgate-audit.json || true
exit "$status"
