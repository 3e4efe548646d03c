"""Real kubectl 1.32 against the sandbox: Jobs run to completion (or fail), and the printers for
bindings, ingresses, PDBs and quotas show kube's columns; NodePort services get node ports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.fixtures.kube import KubectlRunner

FAILING_JOB = """
apiVersion: batch/v1
kind: Job
metadata: {name: bad}
spec:
  backoffLimit: 1
  template:
    metadata:
      annotations: {sandbox.kgate.dev/exit-code: "3"}
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]
"""

CRONJOB = """
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      completions: 2
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: report, image: busybox}]
"""

SERVICES = """
apiVersion: v1
kind: Service
metadata: {name: np}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, name: http}, {port: 443, name: https}]
---
apiVersion: v1
kind: Service
metadata: {name: lb}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 8080}]
"""


def rows(output: str) -> list[list[str]]:
    """A ``kubectl get`` table as rows of cells (columns split on runs of 2+ spaces)."""
    return [re.split(r"\s{2,}", line.strip()) for line in output.splitlines() if line.strip()]


def test_job_runs_to_completion_then_goes_with_its_pods(sandbox_kubeconfig: Path,
                                                        kubectl: KubectlRunner) -> None:
    kc = sandbox_kubeconfig
    kubectl("create", "job", "hello", "--image=busybox", kubeconfig=kc)
    waited = kubectl("wait", "--for=condition=complete", "job/hello", "--timeout=20s",
                     kubeconfig=kc)
    assert "condition met" in waited.stdout
    table = rows(kubectl("get", "jobs", kubeconfig=kc).stdout)
    assert table[0] == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert table[1][:3] == ["hello", "Complete", "1/1"] and table[1][3].endswith("s")

    job = json.loads(kubectl("get", "job", "hello", "-o", "json", kubeconfig=kc).stdout)
    uid = job["metadata"]["uid"]
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    status = job["status"]
    assert status["succeeded"] == 1 and "active" not in status and status["ready"] == 0
    assert status["uncountedTerminatedPods"] == {}
    assert status["startTime"] and status["completionTime"]
    assert [c["type"] for c in status["conditions"]] == ["SuccessCriteriaMet", "Complete"]

    pods = json.loads(kubectl("get", "pods", "-l", "job-name=hello", "-o", "json",
                              kubeconfig=kc).stdout)["items"]
    assert len(pods) == 1
    pod = pods[0]
    assert pod["status"]["phase"] == "Succeeded"
    assert pod["metadata"]["ownerReferences"][0]["uid"] == uid
    assert pod["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "hello"
    assert pod["metadata"]["labels"]["controller-uid"] == uid
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 0 and terminated["reason"] == "Completed"
    pod_rows = rows(kubectl("get", "pods", kubeconfig=kc).stdout)
    assert pod_rows[1][1:3] == ["0/1", "Completed"]

    assert kubectl("logs", "job/hello", kubeconfig=kc).stdout.strip()
    events = kubectl("describe", "job", "hello", kubeconfig=kc).stdout
    assert "Created pod: " in events and "Job completed" in events

    kubectl("delete", "job", "hello", kubeconfig=kc)
    kubectl("wait", "--for=delete", f"pod/{pod['metadata']['name']}", "--timeout=10s",
            kubeconfig=kc)
    assert "No resources found" in kubectl("get", "pods", kubeconfig=kc).stderr


def test_failing_job_retries_up_to_backoff_limit(sandbox_kubeconfig: Path,
                                                 kubectl: KubectlRunner) -> None:
    kc = sandbox_kubeconfig
    kubectl("apply", "-f", "-", input=FAILING_JOB, kubeconfig=kc)
    kubectl("wait", "--for=condition=failed", "job/bad", "--timeout=20s", kubeconfig=kc)
    table = rows(kubectl("get", "job", "bad", kubeconfig=kc).stdout)
    assert table[1][:3] == ["bad", "Failed", "0/1"]
    job = json.loads(kubectl("get", "job", "bad", "-o", "json", kubeconfig=kc).stdout)
    assert job["status"]["failed"] == 2 and "completionTime" not in job["status"]
    failed = {c["type"]: c["reason"] for c in job["status"]["conditions"]}
    assert failed == {"FailureTarget": "BackoffLimitExceeded", "Failed": "BackoffLimitExceeded"}
    pod_rows = rows(kubectl("get", "pods", "-l", "job-name=bad", kubeconfig=kc).stdout)[1:]
    assert len(pod_rows) == 2 and all(r[1:3] == ["0/1", "Error"] for r in pod_rows)
    described = kubectl("describe", "job", "bad", kubeconfig=kc).stdout
    assert "BackoffLimitExceeded" in described and "2 Failed" in described


def test_job_from_cronjob_runs_and_cronjob_columns(sandbox_kubeconfig: Path,
                                                   kubectl: KubectlRunner) -> None:
    kc = sandbox_kubeconfig
    kubectl("apply", "-f", "-", input=CRONJOB, kubeconfig=kc)
    kubectl("create", "job", "manual", "--from=cronjob/nightly", kubeconfig=kc)
    kubectl("wait", "--for=condition=complete", "job/manual", "--timeout=20s", kubeconfig=kc)
    assert rows(kubectl("get", "job", "manual", kubeconfig=kc).stdout)[1][:3] == [
        "manual", "Complete", "2/2"]
    cron = rows(kubectl("get", "cronjobs", "-o", "wide", kubeconfig=kc).stdout)
    assert cron[0] == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE",
                       "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    assert cron[1][:6] == ["nightly", "0 3 * * *", "<none>", "False", "0", "<none>"]
    assert cron[1][7:9] == ["report", "busybox"]
    # The Job is owned by the CronJob: deleting the CronJob takes the Job and its pods.
    kubectl("delete", "cronjob", "nightly", kubeconfig=kc)
    kubectl("wait", "--for=delete", "job/manual", "--timeout=10s", kubeconfig=kc)
    kubectl("wait", "--for=delete", "pods", "-l", "job-name=manual", "--timeout=10s",
            kubeconfig=kc)


def test_printers_for_bindings_ingress_pdb_and_quota(sandbox_kubeconfig: Path,
                                                     kubectl: KubectlRunner) -> None:
    kc = sandbox_kubeconfig
    for args in (
            ["create", "rolebinding", "rb", "--role=reader", "--user=bob", "--group=devs",
             "--serviceaccount=default:robot"],
            ["create", "clusterrolebinding", "crb", "--clusterrole=view", "--user=alice"],
            ["create", "ingress", "web", "--class=nginx", "--rule=foo.com/api=api:80",
             "--rule=bar.com/*=web:80,tls=web-cert"],
            ["create", "pdb", "half", "--selector=app=web", "--min-available=50%"],
            ["create", "pdb", "one", "--selector=app=web", "--max-unavailable=1"],
            ["create", "quota", "small", "--hard=pods=4,cpu=1,limits.memory=1Gi,configmaps=3"],
            ["create", "configmap", "settings", "--from-literal=a=b"]):
        kubectl(*args, kubeconfig=kc)

    rb = rows(kubectl("get", "rolebindings", "-o", "wide", kubeconfig=kc).stdout)
    assert rb[0] == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    assert rb[1][:2] == ["rb", "Role/reader"] and rb[1][3:] == ["bob", "devs", "default/robot"]
    crb = rows(kubectl("get", "clusterrolebinding", "crb", kubeconfig=kc).stdout)
    assert crb[0] == ["NAME", "ROLE", "AGE"] and crb[1][:2] == ["crb", "ClusterRole/view"]

    ing = rows(kubectl("get", "ingress", kubeconfig=kc).stdout)
    assert ing[0] == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    # ADDRESS is empty until a load balancer reports one, as on a real cluster.
    assert ing[1][:3] == ["web", "nginx", "foo.com,bar.com"] and ing[1][3] == "80, 443"

    pdb = rows(kubectl("get", "pdb", kubeconfig=kc).stdout)
    assert pdb[0] == ["NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"]
    assert [r[:4] for r in pdb[1:]] == [["half", "50%", "N/A", "0"], ["one", "N/A", "1", "0"]]

    quota = rows(kubectl("get", "quota", kubeconfig=kc).stdout)
    assert quota[0] == ["NAME", "AGE", "REQUEST", "LIMIT"]
    assert quota[1][0] == "small"
    assert quota[1][2:] == ["configmaps: 1/3, cpu: 0/1, pods: 0/4", "limits.memory: 0/1Gi"]


def test_nodeport_and_loadbalancer_services_get_node_ports(sandbox_kubeconfig: Path,
                                                           kubectl: KubectlRunner) -> None:
    kc = sandbox_kubeconfig
    kubectl("apply", "-f", "-", input=SERVICES, kubeconfig=kc)
    listed = json.loads(kubectl("get", "svc", "-o", "json", kubeconfig=kc).stdout)["items"]
    ports = {s["metadata"]["name"]: [p["nodePort"] for p in s["spec"]["ports"]] for s in listed}
    every = ports["np"] + ports["lb"]
    assert len(set(every)) == 3 and all(30000 <= p <= 32767 for p in every)
    table = rows(kubectl("get", "svc", "np", kubeconfig=kc).stdout)
    assert table[1][4] == f"80:{ports['np'][0]}/TCP,443:{ports['np'][1]}/TCP"

    # Re-applying the same manifest (no nodePort in it) keeps the ports.
    again = kubectl("apply", "-f", "-", input=SERVICES, kubeconfig=kc).stdout
    assert "service/np unchanged" in again and "service/lb unchanged" in again
    # A port another Service holds is refused like kube-apiserver does.
    taken = SERVICES.split("---")[1].replace("name: lb", "name: lb2").replace(
        "port: 8080", f"port: 8080, nodePort: {ports['lb'][0]}")
    refused = kubectl("apply", "-f", "-", input=taken, kubeconfig=kc, check=False)
    assert refused.returncode != 0
    assert (f'The Service "lb2" is invalid: spec.ports[0].nodePort: Invalid value: '
            f"{ports['lb'][0]}: provided port is already allocated") in refused.stderr
