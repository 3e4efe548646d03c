"""The fake scheduler and kubelet: a Pod is placed, "runs" and — if a Job owns it — exits.

A new Pod becomes Running and Ready on ``NODE_NAME`` with a podIP and container statuses, and
the Scheduled/Pulled/Created/Started Events a real node would record. A Job's pod runs for
``JOB_POD_SECONDS`` and then exits 0, or with the code in its ``EXIT_CODE_ANNOTATION``
annotation, so ``kubectl wait --for=condition=complete`` and Job retries behave.
"""

from __future__ import annotations

import hashlib
from typing import Any

from kgate.sandbox.controlplane import ControlPlane, controller_kind, phase
from kgate.sandbox.store import now_rfc3339

Obj = dict[str, Any]
NODE_NAME = "sandbox-node"
JOB_POD_SECONDS = 0.2
EXIT_CODE_ANNOTATION = "sandbox.kgate.dev/exit-code"


def _exit_code(pod: Obj) -> int:
    """The exit code a Job pod's containers "return" (a bad annotation value fails the pod)."""
    raw = ((pod["metadata"].get("annotations") or {}).get(EXIT_CODE_ANNOTATION) or "0")
    try:
        return int(raw)
    except ValueError:
        return 1


class Kubelet:
    """Runs pods: ``run_pod`` when one appears, ``exit_pod`` when a Job pod's time is up."""

    def __init__(self, cp: ControlPlane) -> None:
        self.cp = cp
        self._ip = 10

    def run_pod(self, namespace: str, name: str) -> None:
        """Schedule and "run" a pod: Running, Ready, a podIP and container statuses."""
        pod = self.cp.store.get("", "pods", namespace, name)
        if pod is None or (pod.get("status") or {}).get("phase") not in (None, "Pending"):
            return
        self._ip += 1
        now = now_rfc3339()
        spec = pod.setdefault("spec", {})
        spec.setdefault("nodeName", NODE_NAME)
        containers = spec.get("containers") or []
        pod["status"] = {
            "phase": "Running",
            "conditions": [{"type": t, "status": "True", "lastProbeTime": None,
                            "lastTransitionTime": now}
                           for t in ("PodReadyToStartContainers", "Initialized", "Ready",
                                     "ContainersReady", "PodScheduled")],
            "hostIP": "10.0.0.10", "hostIPs": [{"ip": "10.0.0.10"}],
            "podIP": f"10.244.{self._ip // 250}.{self._ip % 250 + 1}",
            "startTime": now, "qosClass": "BestEffort",
            "containerStatuses": [{
                "name": c.get("name", ""), "image": c.get("image", ""),
                "imageID": f"docker.io/library/{c.get('image', '')}@sha256:"
                           + hashlib.sha256(str(c.get("image")).encode()).hexdigest(),
                "containerID": "containerd://" + hashlib.sha256(
                    f"{namespace}/{name}/{c.get('name')}".encode()).hexdigest(),
                "ready": True, "started": True, "restartCount": 0,
                "state": {"running": {"startedAt": now}}, "lastState": {}}
                for c in containers],
        }
        pod["status"]["podIPs"] = [{"ip": pod["status"]["podIP"]}]
        pod = self.cp.store.put_raw("", "pods", pod)
        self.cp.record(pod, "Scheduled", f"Successfully assigned {namespace}/{name} to "
                     f"{NODE_NAME}", "default-scheduler")
        for c in containers:
            self.cp.record(pod, "Pulled", f'Container image "{c.get("image", "")}" already '
                         "present on machine", "kubelet")
            self.cp.record(pod, "Created", f"Created container: {c.get('name', '')}", "kubelet")
            self.cp.record(pod, "Started", f"Started container {c.get('name', '')}", "kubelet")
        if controller_kind(pod) == "Job":
            self.cp.loop.call_later(JOB_POD_SECONDS, self.cp.enqueue, "podexit", namespace, name)

    def exit_pod(self, namespace: str, name: str) -> None:
        """A Job pod's containers exit: Succeeded (exit 0) or Failed, containers terminated."""
        pod = self.cp.store.get("", "pods", namespace, name)
        if pod is None or phase(pod) != "Running":
            return
        code = _exit_code(pod)
        now = now_rfc3339()
        st = pod["status"]
        st["phase"] = "Succeeded" if code == 0 else "Failed"
        done_reason = "PodCompleted" if code == 0 else "PodFailed"
        for cond in st.get("conditions") or []:
            if cond["type"] in ("Ready", "ContainersReady", "PodReadyToStartContainers"):
                cond.update(status="False", lastTransitionTime=now)
                if cond["type"] != "PodReadyToStartContainers":
                    cond["reason"] = done_reason
        for cs in st.get("containerStatuses") or []:
            started = (cs.get("state") or {}).get("running", {}).get("startedAt", now)
            cs.update(ready=False, started=False, state={"terminated": {
                "exitCode": code, "reason": "Completed" if code == 0 else "Error",
                "startedAt": started, "finishedAt": now, "containerID": cs.get("containerID")}})
        self.cp.store.put_raw("", "pods", pod)
