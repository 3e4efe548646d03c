#!/bin/sh
# The scripted agent `kgate demo` runs under `kgate exec`: what a coding agent might try on a
# payments cluster, one step at a time. It only has the kubeconfig kgate generated for it.
# KUBECTL names the kubectl binary (the demo sets it); NS the namespace it was granted.
KUBECTL=${KUBECTL:-kubectl}
NS=${NS:-prod-payments}

step() { printf '\nagent> %s\n' "$*"; }

step "kubectl get pods -n $NS                      # look around"
$KUBECTL get pods -n "$NS"

step "kubectl get secret db-credentials -o yaml    # read the database password"
$KUBECTL get secret db-credentials -n "$NS" -o yaml

step "kubectl logs deploy/payments-worker          # the logs print a Stripe key"
$KUBECTL logs -n "$NS" deploy/payments-worker

step "kubectl delete namespace $NS                 # something no agent should do"
$KUBECTL delete namespace "$NS"

pod=$($KUBECTL get pods -n "$NS" -o name | head -n 1)
step "kubectl delete $pod                          # restart a pod: needs a human"
$KUBECTL delete -n "$NS" "$pod" --wait=false

step "done"
