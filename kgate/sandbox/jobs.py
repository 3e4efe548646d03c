"""The Job controller, cut down: start pods, count how they ended, complete or fail the Job.

Up to ``parallelism`` pods run at a time until ``completions`` have succeeded (Complete) or
more than ``backoffLimit`` have failed (Failed, remaining pods deleted). The conditions, counts
and Events match kube's so ``kubectl wait``, ``get jobs`` and ``describe`` read correctly.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from kgate.sandbox.controlplane import ControlPlane, phase, short_hash
from kgate.sandbox.store import now_rfc3339

Obj = dict[str, Any]


class Jobs:
    """Reconciles one Job at a time from the pods it owns."""

    def __init__(self, cp: ControlPlane) -> None:
        self.cp = cp

    def reconcile_job(self, namespace: str, name: str) -> None:
        """kube's job controller, cut down: start pods, count them, finish or fail the Job."""
        job = self.cp.store.get("batch", "jobs", namespace, name)
        if job is None:
            return
        spec = job.get("spec") or {}
        old = job.get("status") or {}
        status = copy.deepcopy(old)
        conditions: list[Obj] = status.get("conditions") or []
        finished = any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
                       for c in conditions)
        want = int(spec["completions"]) if spec.get("completions") is not None else 1
        parallelism = int(spec.get("parallelism", 1))
        pods = self.cp.pods_of(job)
        succeeded = sum(1 for p in pods if phase(p) == "Succeeded")
        failed = sum(1 for p in pods if phase(p) == "Failed")
        active = [p for p in pods if phase(p) in ("Pending", "Running")]
        now = now_rfc3339()
        if not finished and not spec.get("suspend"):
            status.setdefault("startTime", now)
            if failed > int(spec.get("backoffLimit", 6)):
                for pod in active:
                    self.cp.store.delete_raw("", "pods", namespace, pod["metadata"]["name"])
                active = []
                message = "Job has reached the specified backoff limit"
                conditions += [_job_condition("FailureTarget", "BackoffLimitExceeded", message,
                                              now),
                               _job_condition("Failed", "BackoffLimitExceeded", message, now)]
                self.cp.record(job, "BackoffLimitExceeded", message, "job-controller", "Warning")
            elif succeeded >= want:
                message = "Reached expected number of succeeded pods"
                conditions += [_job_condition("SuccessCriteriaMet", "CompletionsReached",
                                              message, now),
                               _job_condition("Complete", "CompletionsReached", message, now)]
                status["completionTime"] = now
                self.cp.record(job, "Completed", "Job completed", "job-controller")
            else:
                for _ in range(min(parallelism, want - succeeded) - len(active)):
                    pod_name = f"{name}-{short_hash([name, uuid.uuid4().hex], 5)}"
                    self.cp.new_pod(job, pod_name, {})
                    self.cp.record(job, "SuccessfulCreate", f"Created pod: {pod_name}",
                                 "job-controller")
                active = [p for p in self.cp.pods_of(job) if phase(p) in ("Pending", "Running")]
        if conditions:
            status["conditions"] = conditions
        for key, count in (("active", len(active)), ("succeeded", succeeded),
                           ("failed", failed)):
            if count:
                status[key] = count
            else:
                status.pop(key, None)
        status["ready"] = sum(1 for p in active if phase(p) == "Running")
        status["terminating"] = 0
        status["uncountedTerminatedPods"] = {}
        self.cp.set_status("batch", "jobs", job, status)


def _job_condition(type_: str, reason: str, message: str, now: str) -> Obj:
    return {"type": type_, "status": "True", "lastProbeTime": now, "lastTransitionTime": now,
            "reason": reason, "message": message}
