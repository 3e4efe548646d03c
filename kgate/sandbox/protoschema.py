"""The protobuf schema of the kinds kubectl 1.32 posts: field numbers → JSON names and shapes.

A partial transcription of Kubernetes' ``generated.proto`` (k8s.io/api v0.32) — only the messages
and fields kubectl's typed clients fill in (``create <kind>``, ``create token``, ``auth whoami``,
``auth can-i``) — each checked against a real capture in ``tests/sandbox/data``. How the entries
are read is ``kgate.sandbox.protobuf``'s job; the rules are in its docstring.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class F:
    """One field of a message: its JSON name and how to read it.

    ``kind`` is one of ``str``, ``bytes``, ``int``, ``bool``, ``msg`` (``ref`` names the message),
    ``inline`` (a Go embedded struct: its fields join the parent), ``map`` (``ref`` is the value
    kind: ``str``, ``bytes``, ``quantity`` or ``strings``), ``time``, ``quantity``, ``intstr``.
    """

    name: str
    kind: str = "str"
    ref: str = ""
    repeated: bool = False
    keep_zero: bool = False
    null: bool = False


def _rep(name: str, kind: str = "str", ref: str = "") -> F:
    return F(name, kind, ref, repeated=True)


def _ptr(name: str, kind: str) -> F:
    return F(name, kind, keep_zero=True)


def _nullable(name: str, kind: str = "str", ref: str = "", repeated: bool = False) -> F:
    return F(name, kind, ref, repeated=repeated, keep_zero=True, null=True)


Schema = dict[str, dict[int, F]]

SCHEMA: Schema = {
    "ObjectMeta": {
        1: F("name"), 2: F("generateName"), 3: F("namespace"), 4: F("selfLink"), 5: F("uid"),
        6: F("resourceVersion"), 7: F("generation", "int"), 8: F("creationTimestamp", "time"),
        9: F("deletionTimestamp", "time"), 10: _ptr("deletionGracePeriodSeconds", "int"),
        11: F("labels", "map", "str"), 12: F("annotations", "map", "str"),
        13: _rep("ownerReferences", "msg", "OwnerReference"), 14: _rep("finalizers"),
    },
    "OwnerReference": {
        1: F("kind"), 3: F("name"), 4: F("uid"), 5: F("apiVersion"),
        6: _ptr("controller", "bool"), 7: _ptr("blockOwnerDeletion", "bool"),
    },
    "ObjectReference": {
        1: F("kind"), 2: F("namespace"), 3: F("name"), 4: F("uid"), 5: F("apiVersion"),
        6: F("resourceVersion"), 7: F("fieldPath"),
    },
    "LocalObjectReference": {1: F("name")},
    "Secret": {
        1: F("metadata", "msg", "ObjectMeta"), 5: _ptr("immutable", "bool"),
        2: F("data", "map", "bytes"), 4: F("stringData", "map", "str"), 3: F("type"),
    },
    "ConfigMap": {
        1: F("metadata", "msg", "ObjectMeta"), 4: _ptr("immutable", "bool"),
        2: F("data", "map", "str"), 3: F("binaryData", "map", "bytes"),
    },
    "Namespace": {
        1: F("metadata", "msg", "ObjectMeta"), 2: F("spec", "msg", "NamespaceSpec"),
        3: F("status", "msg", "NamespaceStatus"),
    },
    "NamespaceSpec": {1: _rep("finalizers")},
    "NamespaceStatus": {1: F("phase")},
    "ServiceAccount": {
        1: F("metadata", "msg", "ObjectMeta"), 2: _rep("secrets", "msg", "ObjectReference"),
        3: _rep("imagePullSecrets", "msg", "LocalObjectReference"),
        4: _ptr("automountServiceAccountToken", "bool"),
    },
    "Deployment": {
        1: F("metadata", "msg", "ObjectMeta"), 2: F("spec", "msg", "DeploymentSpec"),
        3: F("status", "msg", "DeploymentStatus"),
    },
    "DeploymentSpec": {
        1: _ptr("replicas", "int"), 2: F("selector", "msg", "LabelSelector"),
        3: F("template", "msg", "PodTemplateSpec"), 4: F("strategy", "msg", "DeploymentStrategy"),
        5: F("minReadySeconds", "int"), 6: _ptr("revisionHistoryLimit", "int"),
        7: F("paused", "bool"), 9: _ptr("progressDeadlineSeconds", "int"),
    },
    "DeploymentStrategy": {1: F("type"), 2: F("rollingUpdate", "msg", "RollingUpdateDeployment")},
    "RollingUpdateDeployment": {1: F("maxUnavailable", "intstr"), 2: F("maxSurge", "intstr")},
    "DeploymentStatus": {
        1: F("observedGeneration", "int"), 2: F("replicas", "int"), 3: F("updatedReplicas", "int"),
        7: F("readyReplicas", "int"), 4: F("availableReplicas", "int"),
        5: F("unavailableReplicas", "int"), 8: _ptr("collisionCount", "int"),
    },
    "LabelSelector": {
        1: F("matchLabels", "map", "str"),
        2: _rep("matchExpressions", "msg", "LabelSelectorRequirement"),
    },
    "LabelSelectorRequirement": {1: F("key"), 2: F("operator"), 3: _rep("values")},
    "Pod": {
        1: F("metadata", "msg", "ObjectMeta"), 2: F("spec", "msg", "PodSpec"),
        3: F("status", "msg", "PodStatus"),
    },
    "PodStatus": {1: F("phase")},
    "PodTemplateSpec": {1: F("metadata", "msg", "ObjectMeta"), 2: F("spec", "msg", "PodSpec")},
    "PodSpec": {
        1: _rep("volumes", "msg", "Volume"), 20: _rep("initContainers", "msg", "Container"),
        2: _rep("containers", "msg", "Container"), 3: F("restartPolicy"),
        4: _ptr("terminationGracePeriodSeconds", "int"), 5: _ptr("activeDeadlineSeconds", "int"),
        6: F("dnsPolicy"), 7: F("nodeSelector", "map", "str"), 8: F("serviceAccountName"),
        9: F("serviceAccount"), 21: _ptr("automountServiceAccountToken", "bool"),
        10: F("nodeName"), 11: F("hostNetwork", "bool"), 12: F("hostPID", "bool"),
        13: F("hostIPC", "bool"), 15: _rep("imagePullSecrets", "msg", "LocalObjectReference"),
        16: F("hostname"), 17: F("subdomain"), 19: F("schedulerName"), 24: F("priorityClassName"),
    },
    "Container": {
        1: F("name"), 2: F("image"), 3: _rep("command"), 4: _rep("args"), 5: F("workingDir"),
        6: _rep("ports", "msg", "ContainerPort"), 19: _rep("envFrom", "msg", "EnvFromSource"),
        7: _rep("env", "msg", "EnvVar"), 8: F("resources", "msg", "ResourceRequirements"),
        9: _rep("volumeMounts", "msg", "VolumeMount"), 13: F("terminationMessagePath"),
        20: F("terminationMessagePolicy"), 14: F("imagePullPolicy"), 16: F("stdin", "bool"),
        17: F("stdinOnce", "bool"), 18: F("tty", "bool"),
    },
    "ContainerPort": {
        1: F("name"), 2: F("hostPort", "int"), 3: F("containerPort", "int"), 4: F("protocol"),
        5: F("hostIP"),
    },
    "EnvVar": {1: F("name"), 2: F("value"), 3: F("valueFrom", "msg", "EnvVarSource")},
    "EnvVarSource": {
        1: F("fieldRef", "msg", "ObjectFieldSelector"),
        2: F("resourceFieldRef", "msg", "ResourceFieldSelector"),
        3: F("configMapKeyRef", "msg", "KeySelector"), 4: F("secretKeyRef", "msg", "KeySelector"),
    },
    "ObjectFieldSelector": {1: F("apiVersion"), 2: F("fieldPath")},
    "ResourceFieldSelector": {
        1: F("containerName"), 2: F("resource"), 3: F("divisor", "quantity"),
    },
    "KeySelector": {
        1: F("", "inline", "LocalObjectReference"), 2: F("key"), 3: _ptr("optional", "bool"),
    },
    "EnvFromSource": {
        1: F("prefix"), 2: F("configMapRef", "msg", "EnvSource"),
        3: F("secretRef", "msg", "EnvSource"),
    },
    "EnvSource": {1: F("", "inline", "LocalObjectReference"), 2: _ptr("optional", "bool")},
    "ResourceRequirements": {
        1: F("limits", "map", "quantity"), 2: F("requests", "map", "quantity"),
    },
    "VolumeMount": {
        1: F("name"), 2: F("readOnly", "bool"), 3: F("mountPath"), 4: F("subPath"),
        5: F("mountPropagation"), 6: F("subPathExpr"),
    },
    "Volume": {1: F("name"), 2: F("", "inline", "VolumeSource")},
    "VolumeSource": {
        2: F("emptyDir", "msg", "EmptyDirVolumeSource"),
        6: F("secret", "msg", "SecretVolumeSource"),
        19: F("configMap", "msg", "ConfigMapVolumeSource"),
    },
    "EmptyDirVolumeSource": {1: F("medium"), 2: F("sizeLimit", "quantity")},
    "SecretVolumeSource": {
        1: F("secretName"), 2: _rep("items", "msg", "KeyToPath"),
        3: _ptr("defaultMode", "int"), 4: _ptr("optional", "bool"),
    },
    "ConfigMapVolumeSource": {
        1: F("", "inline", "LocalObjectReference"), 2: _rep("items", "msg", "KeyToPath"),
        3: _ptr("defaultMode", "int"), 4: _ptr("optional", "bool"),
    },
    "KeyToPath": {1: F("key"), 2: F("path"), 3: _ptr("mode", "int")},
    # batch/v1: kubectl create job|cronjob, create job --from=cronjob/x
    "Job": {
        1: F("metadata", "msg", "ObjectMeta"), 2: F("spec", "msg", "JobSpec"),
        3: F("status", "msg", "JobStatus"),
    },
    "JobSpec": {
        1: _ptr("parallelism", "int"), 2: _ptr("completions", "int"),
        3: _ptr("activeDeadlineSeconds", "int"), 7: _ptr("backoffLimit", "int"),
        4: F("selector", "msg", "LabelSelector"), 5: _ptr("manualSelector", "bool"),
        6: F("template", "msg", "PodTemplateSpec"), 8: _ptr("ttlSecondsAfterFinished", "int"),
        9: F("completionMode"), 10: _ptr("suspend", "bool"),
    },
    "JobStatus": {4: F("active", "int"), 5: F("succeeded", "int"), 6: F("failed", "int")},
    "CronJob": {
        1: F("metadata", "msg", "ObjectMeta"), 2: F("spec", "msg", "CronJobSpec"),
        3: F("status", "msg", "CronJobStatus"),
    },
    "CronJobSpec": {
        1: F("schedule"), 8: F("timeZone"), 2: _ptr("startingDeadlineSeconds", "int"),
        3: F("concurrencyPolicy"), 4: _ptr("suspend", "bool"),
        5: F("jobTemplate", "msg", "JobTemplateSpec"),
        6: _ptr("successfulJobsHistoryLimit", "int"), 7: _ptr("failedJobsHistoryLimit", "int"),
    },
    "JobTemplateSpec": {1: F("metadata", "msg", "ObjectMeta"), 2: F("spec", "msg", "JobSpec")},
    "CronJobStatus": {1: _rep("active", "msg", "ObjectReference")},
    # v1 Service, ResourceQuota: kubectl create service <type>, create quota
    "Service": {
        1: F("metadata", "msg", "ObjectMeta"), 2: F("spec", "msg", "ServiceSpec"),
        3: F("status", "msg", "ServiceStatus"),
    },
    "ServiceSpec": {
        1: _rep("ports", "msg", "ServicePort"), 2: F("selector", "map", "str"),
        3: F("clusterIP"), 4: F("type"), 5: _rep("externalIPs"), 7: F("sessionAffinity"),
        8: F("loadBalancerIP"), 9: _rep("loadBalancerSourceRanges"), 10: F("externalName"),
        11: F("externalTrafficPolicy"), 12: F("healthCheckNodePort", "int"),
        13: F("publishNotReadyAddresses", "bool"),
    },
    "ServicePort": {
        1: F("name"), 2: F("protocol"), 6: F("appProtocol"), 3: F("port", "int"),
        4: F("targetPort", "intstr"), 5: F("nodePort", "int"),
    },
    "ServiceStatus": {1: F("loadBalancer", "msg", "LoadBalancerStatus")},
    "LoadBalancerStatus": {1: _rep("ingress", "msg", "LoadBalancerIngress")},
    "LoadBalancerIngress": {1: F("ip"), 2: F("hostname")},
    "ResourceQuota": {
        1: F("metadata", "msg", "ObjectMeta"), 2: F("spec", "msg", "ResourceQuotaSpec"),
        3: F("status", "msg", "ResourceQuotaStatus"),
    },
    "ResourceQuotaSpec": {1: F("hard", "map", "quantity"), 2: _rep("scopes")},
    "ResourceQuotaStatus": {1: F("hard", "map", "quantity"), 2: F("used", "map", "quantity")},
    # rbac.authorization.k8s.io/v1: kubectl create role|clusterrole|rolebinding|…
    "Role": {1: F("metadata", "msg", "ObjectMeta"), 2: _nullable("rules", "msg", "PolicyRule",
                                                                  repeated=True)},
    "ClusterRole": {
        1: F("metadata", "msg", "ObjectMeta"),
        2: _nullable("rules", "msg", "PolicyRule", repeated=True),
        3: F("aggregationRule", "msg", "AggregationRule"),
    },
    "PolicyRule": {
        1: _nullable("verbs", repeated=True), 2: _rep("apiGroups"), 3: _rep("resources"),
        4: _rep("resourceNames"), 5: _rep("nonResourceURLs"),
    },
    "AggregationRule": {1: _rep("clusterRoleSelectors", "msg", "LabelSelector")},
    "RoleBinding": {
        1: F("metadata", "msg", "ObjectMeta"), 2: _rep("subjects", "msg", "Subject"),
        3: F("roleRef", "msg", "RoleRef"),
    },
    "Subject": {1: F("kind"), 2: F("apiGroup"), 3: F("name"), 4: F("namespace")},
    "RoleRef": {1: F("apiGroup"), 2: F("kind"), 3: F("name")},
    # networking.k8s.io/v1 Ingress, policy/v1 PodDisruptionBudget, scheduling.k8s.io/v1
    "Ingress": {
        1: F("metadata", "msg", "ObjectMeta"), 2: F("spec", "msg", "IngressSpec"),
        3: F("status", "msg", "IngressStatus"),
    },
    "IngressSpec": {
        4: F("ingressClassName"), 1: F("defaultBackend", "msg", "IngressBackend"),
        2: _rep("tls", "msg", "IngressTLS"), 3: _rep("rules", "msg", "IngressRule"),
    },
    "IngressBackend": {4: F("service", "msg", "IngressServiceBackend")},
    "IngressServiceBackend": {1: F("name"), 2: F("port", "msg", "ServiceBackendPort")},
    "ServiceBackendPort": {1: F("name"), 2: F("number", "int")},
    "IngressTLS": {1: _rep("hosts"), 2: F("secretName")},
    "IngressRule": {1: F("host"), 2: F("", "inline", "IngressRuleValue")},
    "IngressRuleValue": {1: F("http", "msg", "HTTPIngressRuleValue")},
    "HTTPIngressRuleValue": {1: _rep("paths", "msg", "HTTPIngressPath")},
    "HTTPIngressPath": {
        1: F("path"), 3: F("pathType"), 2: F("backend", "msg", "IngressBackend"),
    },
    "IngressStatus": {1: F("loadBalancer", "msg", "IngressLoadBalancerStatus")},
    "IngressLoadBalancerStatus": {1: _rep("ingress", "msg", "LoadBalancerIngress")},
    "PodDisruptionBudget": {
        1: F("metadata", "msg", "ObjectMeta"), 2: F("spec", "msg", "PodDisruptionBudgetSpec"),
        3: F("status", "msg", "PodDisruptionBudgetStatus"),
    },
    "PodDisruptionBudgetSpec": {
        1: F("minAvailable", "intstr"), 2: F("selector", "msg", "LabelSelector"),
        3: F("maxUnavailable", "intstr"), 4: F("unhealthyPodEvictionPolicy"),
    },
    "PodDisruptionBudgetStatus": {
        1: F("observedGeneration", "int"), 3: _ptr("disruptionsAllowed", "int"),
        4: _ptr("currentHealthy", "int"), 5: _ptr("desiredHealthy", "int"),
        6: _ptr("expectedPods", "int"),
    },
    "PriorityClass": {
        1: F("metadata", "msg", "ObjectMeta"), 2: _ptr("value", "int"),
        3: F("globalDefault", "bool"), 4: F("description"), 5: F("preemptionPolicy"),
    },
    # authentication.k8s.io/v1: kubectl auth whoami, kubectl create token
    "SelfSubjectReview": {
        1: F("metadata", "msg", "ObjectMeta"), 2: F("status", "msg", "SelfSubjectReviewStatus"),
    },
    "SelfSubjectReviewStatus": {1: F("userInfo", "msg", "UserInfo")},
    "UserInfo": {
        1: F("username"), 2: F("uid"), 3: _rep("groups"), 4: F("extra", "map", "strings"),
    },
    "TokenRequest": {
        1: F("metadata", "msg", "ObjectMeta"), 2: F("spec", "msg", "TokenRequestSpec"),
        3: F("status", "msg", "TokenRequestStatus"),
    },
    "TokenRequestSpec": {
        1: _nullable("audiences", repeated=True), 4: _nullable("expirationSeconds", "int"),
        3: _nullable("boundObjectRef", "msg", "BoundObjectReference"),
    },
    "BoundObjectReference": {1: F("kind"), 2: F("apiVersion"), 3: F("name"), 4: F("uid")},
    "TokenRequestStatus": {1: _ptr("token", "str"), 2: F("expirationTimestamp", "time")},
    # authorization.k8s.io/v1: kubectl auth can-i (a verb and resource, a URL, or --list)
    "SelfSubjectAccessReview": {
        1: F("metadata", "msg", "ObjectMeta"),
        2: F("spec", "msg", "SelfSubjectAccessReviewSpec"),
        3: F("status", "msg", "SubjectAccessReviewStatus"),
    },
    "SelfSubjectAccessReviewSpec": {
        1: F("resourceAttributes", "msg", "ResourceAttributes"),
        2: F("nonResourceAttributes", "msg", "NonResourceAttributes"),
    },
    "ResourceAttributes": {
        1: F("namespace"), 2: F("verb"), 3: F("group"), 4: F("version"), 5: F("resource"),
        6: F("subresource"), 7: F("name"),
        8: F("fieldSelector", "msg", "FieldSelectorAttributes"),
        9: F("labelSelector", "msg", "LabelSelectorAttributes"),
    },
    "FieldSelectorAttributes": {
        1: F("rawSelector"), 2: _rep("requirements", "msg", "FieldSelectorRequirement"),
    },
    "FieldSelectorRequirement": {1: F("key"), 2: F("operator"), 3: _rep("values")},
    "LabelSelectorAttributes": {
        1: F("rawSelector"), 2: _rep("requirements", "msg", "LabelSelectorRequirement"),
    },
    "NonResourceAttributes": {1: F("path"), 2: F("verb")},
    "SubjectAccessReviewStatus": {
        1: _ptr("allowed", "bool"), 4: F("denied", "bool"), 2: F("reason"),
        3: F("evaluationError"),
    },
    "SelfSubjectRulesReview": {
        1: F("metadata", "msg", "ObjectMeta"),
        2: F("spec", "msg", "SelfSubjectRulesReviewSpec"),
        3: F("status", "msg", "SubjectRulesReviewStatus"),
    },
    "SelfSubjectRulesReviewSpec": {1: F("namespace")},
    "SubjectRulesReviewStatus": {
        1: _nullable("resourceRules", "msg", "ResourceRule", repeated=True),
        2: _nullable("nonResourceRules", "msg", "NonResourceRule", repeated=True),
        3: _ptr("incomplete", "bool"), 4: F("evaluationError"),
    },
    "ResourceRule": {
        1: _nullable("verbs", repeated=True), 2: _rep("apiGroups"), 3: _rep("resources"),
        4: _rep("resourceNames"),
    },
    "NonResourceRule": {1: _nullable("verbs", repeated=True), 2: _rep("nonResourceURLs")},
}

# (apiVersion, kind) -> root message. Only kinds whose schema above is complete enough to
# reproduce what kubectl sends; anything else is refused.
ROOTS: dict[tuple[str, str], str] = {
    ("v1", "Secret"): "Secret",
    ("v1", "ConfigMap"): "ConfigMap",
    ("v1", "Namespace"): "Namespace",
    ("v1", "ServiceAccount"): "ServiceAccount",
    ("v1", "Pod"): "Pod",
    ("apps/v1", "Deployment"): "Deployment",
    ("batch/v1", "Job"): "Job",
    ("batch/v1", "CronJob"): "CronJob",
    ("v1", "Service"): "Service",
    ("v1", "ResourceQuota"): "ResourceQuota",
    ("rbac.authorization.k8s.io/v1", "Role"): "Role",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "ClusterRole",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "RoleBinding",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "RoleBinding",
    ("networking.k8s.io/v1", "Ingress"): "Ingress",
    ("policy/v1", "PodDisruptionBudget"): "PodDisruptionBudget",
    ("scheduling.k8s.io/v1", "PriorityClass"): "PriorityClass",
    ("authentication.k8s.io/v1", "SelfSubjectReview"): "SelfSubjectReview",
    ("authentication.k8s.io/v1", "TokenRequest"): "TokenRequest",
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): "SelfSubjectAccessReview",
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): "SelfSubjectRulesReview",
}
