"""The protobuf schema of the kinds kubectl 1.32 posts: field numbers → JSON names and shapes.

Two parts. The workload kinds (core/v1 Pod and everything a pod spec reaches, apps/v1, batch/v1)
are *complete*: generated from the struct tags of k8s.io/api v0.32.13 ``types.go`` (Go type →
pointer/slice/inline, json tag → name and ``omitempty``, protobuf tag → number) and checked
against ``generated.proto`` of the same release, so a field this schema does not know there is a
field kubectl 1.32 cannot send. The proxy relies on that: it transcodes protobuf bodies that
carry a placeholder to JSON and refuses any field it does not know (``kgate.protojson``). The
other kinds (RBAC, authentication, authorization, networking, policy, scheduling, and the
ObjectMeta family) are a hand transcription of the fields kubectl's typed clients fill in, each
checked against a real capture in ``tests/sandbox/data``. How entries are read is
``kgate.protojson``'s job; the rules are in its docstring.
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
    "LabelSelector": {
        1: F("matchLabels", "map", "str"),
        2: _rep("matchExpressions", "msg", "LabelSelectorRequirement"),
    },
    "LabelSelectorRequirement": {1: F("key"), 2: F("operator"), 3: _rep("values")},
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
    # --- generated from k8s.io/api v0.32.13 core/v1, apps/v1, batch/v1 types.go struct tags
    "AWSElasticBlockStoreVolumeSource": {
        1: F("volumeID"), 2: F("fsType"), 3: F("partition", "int"), 4: F("readOnly", "bool"),
    },
    "Affinity": {
        1: F("nodeAffinity", "msg", "NodeAffinity"), 2: F("podAffinity", "msg", "PodAffinity"),
        3: F("podAntiAffinity", "msg", "PodAntiAffinity"),
    },
    "AppArmorProfile": {1: F("type"), 2: _ptr("localhostProfile", "str")},
    "AzureDiskVolumeSource": {
        1: F("diskName"), 2: F("diskURI"), 3: _ptr("cachingMode", "str"),
        4: _ptr("fsType", "str"), 5: _ptr("readOnly", "bool"),
        6: _ptr("kind", "str"),
    },
    "AzureFileVolumeSource": {1: F("secretName"), 2: F("shareName"), 3: F("readOnly", "bool")},
    "CSIVolumeSource": {
        1: F("driver"), 2: _ptr("readOnly", "bool"), 3: _ptr("fsType", "str"),
        4: F("volumeAttributes", "map", "str"),
        5: F("nodePublishSecretRef", "msg", "LocalObjectReference"),
    },
    "Capabilities": {1: _rep("add"), 2: _rep("drop")},
    "CephFSVolumeSource": {
        1: _nullable("monitors", repeated=True), 2: F("path"), 3: F("user"),
        4: F("secretFile"), 5: F("secretRef", "msg", "LocalObjectReference"),
        6: F("readOnly", "bool"),
    },
    "CinderVolumeSource": {
        1: F("volumeID"), 2: F("fsType"), 3: F("readOnly", "bool"),
        4: F("secretRef", "msg", "LocalObjectReference"),
    },
    "ClusterTrustBundleProjection": {
        1: _ptr("name", "str"), 2: _ptr("signerName", "str"),
        3: F("labelSelector", "msg", "LabelSelector"), 4: F("path"),
        5: _ptr("optional", "bool"),
    },
    "ConfigMapEnvSource": {
        1: F("", "inline", "LocalObjectReference"), 2: _ptr("optional", "bool"),
    },
    "ConfigMapKeySelector": {
        1: F("", "inline", "LocalObjectReference"), 2: F("key"),
        3: _ptr("optional", "bool"),
    },
    "ConfigMapProjection": {
        1: F("", "inline", "LocalObjectReference"),
        2: _rep("items", "msg", "KeyToPath"),
        4: _ptr("optional", "bool"),
    },
    "ConfigMapVolumeSource": {
        1: F("", "inline", "LocalObjectReference"),
        2: _rep("items", "msg", "KeyToPath"),
        3: _ptr("defaultMode", "int"), 4: _ptr("optional", "bool"),
    },
    "Container": {
        1: F("name"), 2: F("image"), 3: _rep("command"), 4: _rep("args"),
        5: F("workingDir"), 6: _rep("ports", "msg", "ContainerPort"),
        7: _rep("env", "msg", "EnvVar"),
        8: F("resources", "msg", "ResourceRequirements"),
        9: _rep("volumeMounts", "msg", "VolumeMount"),
        10: F("livenessProbe", "msg", "Probe"), 11: F("readinessProbe", "msg", "Probe"),
        12: F("lifecycle", "msg", "Lifecycle"), 13: F("terminationMessagePath"),
        14: F("imagePullPolicy"), 15: F("securityContext", "msg", "SecurityContext"),
        16: F("stdin", "bool"), 17: F("stdinOnce", "bool"), 18: F("tty", "bool"),
        19: _rep("envFrom", "msg", "EnvFromSource"),
        20: F("terminationMessagePolicy"),
        21: _rep("volumeDevices", "msg", "VolumeDevice"),
        22: F("startupProbe", "msg", "Probe"),
        23: _rep("resizePolicy", "msg", "ContainerResizePolicy"),
        24: _ptr("restartPolicy", "str"),
    },
    "ContainerPort": {
        1: F("name"), 2: F("hostPort", "int"), 3: F("containerPort", "int"), 4: F("protocol"),
        5: F("hostIP"),
    },
    "ContainerResizePolicy": {1: F("resourceName"), 2: F("restartPolicy")},
    "ContainerState": {
        1: F("waiting", "msg", "ContainerStateWaiting"),
        2: F("running", "msg", "ContainerStateRunning"),
        3: F("terminated", "msg", "ContainerStateTerminated"),
    },
    "ContainerStateRunning": {1: F("startedAt", "time")},
    "ContainerStateTerminated": {
        1: F("exitCode", "int"), 2: F("signal", "int"), 3: F("reason"), 4: F("message"),
        5: F("startedAt", "time"), 6: F("finishedAt", "time"), 7: F("containerID"),
    },
    "ContainerStateWaiting": {1: F("reason"), 2: F("message")},
    "ContainerStatus": {
        1: F("name"), 2: F("state", "msg", "ContainerState"),
        3: F("lastState", "msg", "ContainerState"), 4: F("ready", "bool"),
        5: F("restartCount", "int"), 6: F("image"), 7: F("imageID"), 8: F("containerID"),
        9: _ptr("started", "bool"), 10: F("allocatedResources", "map", "quantity"),
        11: F("resources", "msg", "ResourceRequirements"),
        12: _rep("volumeMounts", "msg", "VolumeMountStatus"),
        13: F("user", "msg", "ContainerUser"),
        14: _rep("allocatedResourcesStatus", "msg", "ResourceStatus"),
    },
    "ContainerUser": {1: F("linux", "msg", "LinuxContainerUser")},
    "ControllerRevision": {1: F("metadata", "msg", "ObjectMeta"), 3: F("revision", "int")},
    "CronJob": {
        1: F("metadata", "msg", "ObjectMeta"), 2: F("spec", "msg", "CronJobSpec"),
        3: F("status", "msg", "CronJobStatus"),
    },
    "CronJobSpec": {
        1: F("schedule"), 2: _ptr("startingDeadlineSeconds", "int"),
        3: F("concurrencyPolicy"), 4: _ptr("suspend", "bool"),
        5: F("jobTemplate", "msg", "JobTemplateSpec"),
        6: _ptr("successfulJobsHistoryLimit", "int"),
        7: _ptr("failedJobsHistoryLimit", "int"), 8: _ptr("timeZone", "str"),
    },
    "CronJobStatus": {
        1: _rep("active", "msg", "ObjectReference"),
        4: _ptr("lastScheduleTime", "time"),
        5: _ptr("lastSuccessfulTime", "time"),
    },
    "DaemonSet": {
        1: F("metadata", "msg", "ObjectMeta"), 2: F("spec", "msg", "DaemonSetSpec"),
        3: F("status", "msg", "DaemonSetStatus"),
    },
    "DaemonSetCondition": {
        1: F("type"), 2: F("status"), 3: F("lastTransitionTime", "time"), 4: F("reason"),
        5: F("message"),
    },
    "DaemonSetSpec": {
        1: F("selector", "msg", "LabelSelector", null=True, keep_zero=True),
        2: F("template", "msg", "PodTemplateSpec"),
        3: F("updateStrategy", "msg", "DaemonSetUpdateStrategy"), 4: F("minReadySeconds", "int"),
        6: _ptr("revisionHistoryLimit", "int"),
    },
    "DaemonSetStatus": {
        1: F("currentNumberScheduled", "int"), 2: F("numberMisscheduled", "int"),
        3: F("desiredNumberScheduled", "int"), 4: F("numberReady", "int"),
        5: F("observedGeneration", "int"), 6: F("updatedNumberScheduled", "int"),
        7: F("numberAvailable", "int"), 8: F("numberUnavailable", "int"),
        9: _ptr("collisionCount", "int"),
        10: _rep("conditions", "msg", "DaemonSetCondition"),
    },
    "DaemonSetUpdateStrategy": {
        1: F("type"), 2: F("rollingUpdate", "msg", "RollingUpdateDaemonSet"),
    },
    "Deployment": {
        1: F("metadata", "msg", "ObjectMeta"), 2: F("spec", "msg", "DeploymentSpec"),
        3: F("status", "msg", "DeploymentStatus"),
    },
    "DeploymentCondition": {
        1: F("type"), 2: F("status"), 4: F("reason"), 5: F("message"),
        6: F("lastUpdateTime", "time"), 7: F("lastTransitionTime", "time"),
    },
    "DeploymentSpec": {
        1: _ptr("replicas", "int"),
        2: F("selector", "msg", "LabelSelector", null=True, keep_zero=True),
        3: F("template", "msg", "PodTemplateSpec"), 4: F("strategy", "msg", "DeploymentStrategy"),
        5: F("minReadySeconds", "int"), 6: _ptr("revisionHistoryLimit", "int"),
        7: F("paused", "bool"), 9: _ptr("progressDeadlineSeconds", "int"),
    },
    "DeploymentStatus": {
        1: F("observedGeneration", "int"), 2: F("replicas", "int"),
        3: F("updatedReplicas", "int"), 4: F("availableReplicas", "int"),
        5: F("unavailableReplicas", "int"),
        6: _rep("conditions", "msg", "DeploymentCondition"),
        7: F("readyReplicas", "int"), 8: _ptr("collisionCount", "int"),
    },
    "DeploymentStrategy": {1: F("type"), 2: F("rollingUpdate", "msg", "RollingUpdateDeployment")},
    "DownwardAPIProjection": {1: _rep("items", "msg", "DownwardAPIVolumeFile")},
    "DownwardAPIVolumeFile": {
        1: F("path"), 2: F("fieldRef", "msg", "ObjectFieldSelector"),
        3: F("resourceFieldRef", "msg", "ResourceFieldSelector"),
        4: _ptr("mode", "int"),
    },
    "DownwardAPIVolumeSource": {
        1: _rep("items", "msg", "DownwardAPIVolumeFile"),
        2: _ptr("defaultMode", "int"),
    },
    "EmptyDirVolumeSource": {1: F("medium"), 2: _ptr("sizeLimit", "quantity")},
    "EnvFromSource": {
        1: F("prefix"), 2: F("configMapRef", "msg", "ConfigMapEnvSource"),
        3: F("secretRef", "msg", "SecretEnvSource"),
    },
    "EnvVar": {1: F("name"), 2: F("value"), 3: F("valueFrom", "msg", "EnvVarSource")},
    "EnvVarSource": {
        1: F("fieldRef", "msg", "ObjectFieldSelector"),
        2: F("resourceFieldRef", "msg", "ResourceFieldSelector"),
        3: F("configMapKeyRef", "msg", "ConfigMapKeySelector"),
        4: F("secretKeyRef", "msg", "SecretKeySelector"),
    },
    "EphemeralContainer": {
        1: F("", "inline", "EphemeralContainerCommon"), 2: F("targetContainerName"),
    },
    "EphemeralContainerCommon": {
        1: F("name"), 2: F("image"), 3: _rep("command"), 4: _rep("args"),
        5: F("workingDir"), 6: _rep("ports", "msg", "ContainerPort"),
        7: _rep("env", "msg", "EnvVar"),
        8: F("resources", "msg", "ResourceRequirements"),
        9: _rep("volumeMounts", "msg", "VolumeMount"),
        10: F("livenessProbe", "msg", "Probe"), 11: F("readinessProbe", "msg", "Probe"),
        12: F("lifecycle", "msg", "Lifecycle"), 13: F("terminationMessagePath"),
        14: F("imagePullPolicy"), 15: F("securityContext", "msg", "SecurityContext"),
        16: F("stdin", "bool"), 17: F("stdinOnce", "bool"), 18: F("tty", "bool"),
        19: _rep("envFrom", "msg", "EnvFromSource"),
        20: F("terminationMessagePolicy"),
        21: _rep("volumeDevices", "msg", "VolumeDevice"),
        22: F("startupProbe", "msg", "Probe"),
        23: _rep("resizePolicy", "msg", "ContainerResizePolicy"),
        24: _ptr("restartPolicy", "str"),
    },
    "EphemeralVolumeSource": {1: F("volumeClaimTemplate", "msg", "PersistentVolumeClaimTemplate")},
    "ExecAction": {1: _rep("command")},
    "FCVolumeSource": {
        1: _rep("targetWWNs"), 2: _ptr("lun", "int"), 3: F("fsType"),
        4: F("readOnly", "bool"), 5: _rep("wwids"),
    },
    "FlexVolumeSource": {
        1: F("driver"), 2: F("fsType"), 3: F("secretRef", "msg", "LocalObjectReference"),
        4: F("readOnly", "bool"), 5: F("options", "map", "str"),
    },
    "FlockerVolumeSource": {1: F("datasetName"), 2: F("datasetUUID")},
    "GCEPersistentDiskVolumeSource": {
        1: F("pdName"), 2: F("fsType"), 3: F("partition", "int"), 4: F("readOnly", "bool"),
    },
    "GRPCAction": {1: F("port", "int"), 2: _nullable("service")},
    "GitRepoVolumeSource": {1: F("repository"), 2: F("revision"), 3: F("directory")},
    "GlusterfsVolumeSource": {1: F("endpoints"), 2: F("path"), 3: F("readOnly", "bool")},
    "HTTPGetAction": {
        1: F("path"), 2: F("port", "intstr"), 3: F("host"), 4: F("scheme"),
        5: _rep("httpHeaders", "msg", "HTTPHeader"),
    },
    "HTTPHeader": {1: F("name"), 2: F("value")},
    "HostAlias": {1: F("ip"), 2: _rep("hostnames")},
    "HostIP": {1: F("ip")},
    "HostPathVolumeSource": {1: F("path"), 2: _ptr("type", "str")},
    "ISCSIVolumeSource": {
        1: F("targetPortal"), 2: F("iqn"), 3: F("lun", "int"), 4: F("iscsiInterface"),
        5: F("fsType"), 6: F("readOnly", "bool"), 7: _rep("portals"),
        8: F("chapAuthDiscovery", "bool"), 10: F("secretRef", "msg", "LocalObjectReference"),
        11: F("chapAuthSession", "bool"), 12: _ptr("initiatorName", "str"),
    },
    "ImageVolumeSource": {1: F("reference"), 2: F("pullPolicy")},
    "Job": {
        1: F("metadata", "msg", "ObjectMeta"), 2: F("spec", "msg", "JobSpec"),
        3: F("status", "msg", "JobStatus"),
    },
    "JobCondition": {
        1: F("type"), 2: F("status"), 3: F("lastProbeTime", "time"),
        4: F("lastTransitionTime", "time"), 5: F("reason"), 6: F("message"),
    },
    "JobSpec": {
        1: _ptr("parallelism", "int"), 2: _ptr("completions", "int"),
        3: _ptr("activeDeadlineSeconds", "int"),
        4: F("selector", "msg", "LabelSelector"), 5: _ptr("manualSelector", "bool"),
        6: F("template", "msg", "PodTemplateSpec"), 7: _ptr("backoffLimit", "int"),
        8: _ptr("ttlSecondsAfterFinished", "int"),
        9: _ptr("completionMode", "str"), 10: _ptr("suspend", "bool"),
        11: F("podFailurePolicy", "msg", "PodFailurePolicy"),
        12: _ptr("backoffLimitPerIndex", "int"),
        13: _ptr("maxFailedIndexes", "int"),
        14: _ptr("podReplacementPolicy", "str"), 15: _ptr("managedBy", "str"),
        16: F("successPolicy", "msg", "SuccessPolicy"),
    },
    "JobStatus": {
        1: _rep("conditions", "msg", "JobCondition"),
        2: _ptr("startTime", "time"), 3: _ptr("completionTime", "time"),
        4: F("active", "int"), 5: F("succeeded", "int"), 6: F("failed", "int"),
        7: F("completedIndexes"),
        8: F("uncountedTerminatedPods", "msg", "UncountedTerminatedPods"),
        9: _ptr("ready", "int"), 10: _ptr("failedIndexes", "str"),
        11: _ptr("terminating", "int"),
    },
    "JobTemplateSpec": {1: F("metadata", "msg", "ObjectMeta"), 2: F("spec", "msg", "JobSpec")},
    "KeyToPath": {1: F("key"), 2: F("path"), 3: _ptr("mode", "int")},
    "Lifecycle": {
        1: F("postStart", "msg", "LifecycleHandler"), 2: F("preStop", "msg", "LifecycleHandler"),
    },
    "LifecycleHandler": {
        1: F("exec", "msg", "ExecAction"), 2: F("httpGet", "msg", "HTTPGetAction"),
        3: F("tcpSocket", "msg", "TCPSocketAction"), 4: F("sleep", "msg", "SleepAction"),
    },
    "LinuxContainerUser": {
        1: F("uid", "int"), 2: F("gid", "int"), 3: _rep("supplementalGroups", "int"),
    },
    "LocalObjectReference": {1: F("name")},
    "ModifyVolumeStatus": {1: F("targetVolumeAttributesClassName"), 2: F("status")},
    "NFSVolumeSource": {1: F("server"), 2: F("path"), 3: F("readOnly", "bool")},
    "NodeAffinity": {
        1: F("requiredDuringSchedulingIgnoredDuringExecution", "msg", "NodeSelector"),
        2: _rep("preferredDuringSchedulingIgnoredDuringExecution", "msg",
                "PreferredSchedulingTerm"),
    },
    "NodeSelector": {
        1: _nullable("nodeSelectorTerms", "msg", "NodeSelectorTerm", repeated=True),
    },
    "NodeSelectorRequirement": {1: F("key"), 2: F("operator"), 3: _rep("values")},
    "NodeSelectorTerm": {
        1: _rep("matchExpressions", "msg", "NodeSelectorRequirement"),
        2: _rep("matchFields", "msg", "NodeSelectorRequirement"),
    },
    "ObjectFieldSelector": {1: F("apiVersion"), 2: F("fieldPath")},
    "ObjectReference": {
        1: F("kind"), 2: F("namespace"), 3: F("name"), 4: F("uid"), 5: F("apiVersion"),
        6: F("resourceVersion"), 7: F("fieldPath"),
    },
    "PersistentVolumeClaim": {
        1: F("metadata", "msg", "ObjectMeta"), 2: F("spec", "msg", "PersistentVolumeClaimSpec"),
        3: F("status", "msg", "PersistentVolumeClaimStatus"),
    },
    "PersistentVolumeClaimCondition": {
        1: F("type"), 2: F("status"), 3: F("lastProbeTime", "time"),
        4: F("lastTransitionTime", "time"), 5: F("reason"), 6: F("message"),
    },
    "PersistentVolumeClaimSpec": {
        1: _rep("accessModes"),
        2: F("resources", "msg", "VolumeResourceRequirements"), 3: F("volumeName"),
        4: F("selector", "msg", "LabelSelector"), 5: _ptr("storageClassName", "str"),
        6: _ptr("volumeMode", "str"),
        7: F("dataSource", "msg", "TypedLocalObjectReference"),
        8: F("dataSourceRef", "msg", "TypedObjectReference"),
        9: _ptr("volumeAttributesClassName", "str"),
    },
    "PersistentVolumeClaimStatus": {
        1: F("phase"), 2: _rep("accessModes"), 3: F("capacity", "map", "quantity"),
        4: _rep("conditions", "msg", "PersistentVolumeClaimCondition"),
        5: F("allocatedResources", "map", "quantity"),
        7: F("allocatedResourceStatuses", "map", "str"),
        8: _ptr("currentVolumeAttributesClassName", "str"),
        9: F("modifyVolumeStatus", "msg", "ModifyVolumeStatus"),
    },
    "PersistentVolumeClaimTemplate": {
        1: F("metadata", "msg", "ObjectMeta"), 2: F("spec", "msg", "PersistentVolumeClaimSpec"),
    },
    "PersistentVolumeClaimVolumeSource": {1: F("claimName"), 2: F("readOnly", "bool")},
    "PhotonPersistentDiskVolumeSource": {1: F("pdID"), 2: F("fsType")},
    "Pod": {
        1: F("metadata", "msg", "ObjectMeta"), 2: F("spec", "msg", "PodSpec"),
        3: F("status", "msg", "PodStatus"),
    },
    "PodAffinity": {
        1: _rep("requiredDuringSchedulingIgnoredDuringExecution", "msg", "PodAffinityTerm"),
        2: _rep("preferredDuringSchedulingIgnoredDuringExecution", "msg",
                "WeightedPodAffinityTerm"),
    },
    "PodAffinityTerm": {
        1: F("labelSelector", "msg", "LabelSelector"), 2: _rep("namespaces"),
        3: F("topologyKey"), 4: F("namespaceSelector", "msg", "LabelSelector"),
        5: _rep("matchLabelKeys"), 6: _rep("mismatchLabelKeys"),
    },
    "PodAntiAffinity": {
        1: _rep("requiredDuringSchedulingIgnoredDuringExecution", "msg", "PodAffinityTerm"),
        2: _rep("preferredDuringSchedulingIgnoredDuringExecution", "msg",
                "WeightedPodAffinityTerm"),
    },
    "PodCondition": {
        1: F("type"), 2: F("status"), 3: F("lastProbeTime", "time"),
        4: F("lastTransitionTime", "time"), 5: F("reason"), 6: F("message"),
    },
    "PodDNSConfig": {
        1: _rep("nameservers"), 2: _rep("searches"),
        3: _rep("options", "msg", "PodDNSConfigOption"),
    },
    "PodDNSConfigOption": {1: F("name"), 2: _ptr("value", "str")},
    "PodFailurePolicy": {
        1: _nullable("rules", "msg", "PodFailurePolicyRule", repeated=True),
    },
    "PodFailurePolicyOnExitCodesRequirement": {
        1: _ptr("containerName", "str"), 2: F("operator"),
        3: _nullable("values", "int", repeated=True),
    },
    "PodFailurePolicyOnPodConditionsPattern": {1: F("type"), 2: F("status")},
    "PodFailurePolicyRule": {
        1: F("action"), 2: F("onExitCodes", "msg", "PodFailurePolicyOnExitCodesRequirement"),
        3: _rep("onPodConditions", "msg", "PodFailurePolicyOnPodConditionsPattern"),
    },
    "PodIP": {1: F("ip")},
    "PodOS": {1: F("name")},
    "PodReadinessGate": {1: F("conditionType")},
    "PodResourceClaim": {
        1: F("name"), 3: _ptr("resourceClaimName", "str"),
        4: _ptr("resourceClaimTemplateName", "str"),
    },
    "PodResourceClaimStatus": {1: F("name"), 2: _ptr("resourceClaimName", "str")},
    "PodSchedulingGate": {1: F("name")},
    "PodSecurityContext": {
        1: F("seLinuxOptions", "msg", "SELinuxOptions"), 2: _ptr("runAsUser", "int"),
        3: _ptr("runAsNonRoot", "bool"),
        4: _rep("supplementalGroups", "int"), 5: _ptr("fsGroup", "int"),
        6: _ptr("runAsGroup", "int"),
        7: _rep("sysctls", "msg", "Sysctl"),
        8: F("windowsOptions", "msg", "WindowsSecurityContextOptions"),
        9: _ptr("fsGroupChangePolicy", "str"),
        10: F("seccompProfile", "msg", "SeccompProfile"),
        11: F("appArmorProfile", "msg", "AppArmorProfile"),
        12: _ptr("supplementalGroupsPolicy", "str"),
        13: _ptr("seLinuxChangePolicy", "str"),
    },
    "PodSpec": {
        1: _rep("volumes", "msg", "Volume"),
        2: _nullable("containers", "msg", "Container", repeated=True),
        3: F("restartPolicy"), 4: _ptr("terminationGracePeriodSeconds", "int"),
        5: _ptr("activeDeadlineSeconds", "int"), 6: F("dnsPolicy"),
        7: F("nodeSelector", "map", "str"), 8: F("serviceAccountName"), 9: F("serviceAccount"),
        10: F("nodeName"), 11: F("hostNetwork", "bool"), 12: F("hostPID", "bool"),
        13: F("hostIPC", "bool"), 14: F("securityContext", "msg", "PodSecurityContext"),
        15: _rep("imagePullSecrets", "msg", "LocalObjectReference"),
        16: F("hostname"), 17: F("subdomain"), 18: F("affinity", "msg", "Affinity"),
        19: F("schedulerName"), 20: _rep("initContainers", "msg", "Container"),
        21: _ptr("automountServiceAccountToken", "bool"),
        22: _rep("tolerations", "msg", "Toleration"),
        23: _rep("hostAliases", "msg", "HostAlias"), 24: F("priorityClassName"),
        25: _ptr("priority", "int"), 26: F("dnsConfig", "msg", "PodDNSConfig"),
        27: _ptr("shareProcessNamespace", "bool"),
        28: _rep("readinessGates", "msg", "PodReadinessGate"),
        29: _ptr("runtimeClassName", "str"),
        30: _ptr("enableServiceLinks", "bool"),
        31: _ptr("preemptionPolicy", "str"), 32: F("overhead", "map", "quantity"),
        33: _rep("topologySpreadConstraints", "msg", "TopologySpreadConstraint"),
        34: _rep("ephemeralContainers", "msg", "EphemeralContainer"),
        35: _ptr("setHostnameAsFQDN", "bool"), 36: F("os", "msg", "PodOS"),
        37: _ptr("hostUsers", "bool"),
        38: _rep("schedulingGates", "msg", "PodSchedulingGate"),
        39: _rep("resourceClaims", "msg", "PodResourceClaim"),
        40: F("resources", "msg", "ResourceRequirements"),
    },
    "PodStatus": {
        1: F("phase"), 2: _rep("conditions", "msg", "PodCondition"), 3: F("message"),
        4: F("reason"), 5: F("hostIP"), 6: F("podIP"), 7: _ptr("startTime", "time"),
        8: _rep("containerStatuses", "msg", "ContainerStatus"),
        9: F("qosClass"),
        10: _rep("initContainerStatuses", "msg", "ContainerStatus"),
        11: F("nominatedNodeName"), 12: _rep("podIPs", "msg", "PodIP"),
        13: _rep("ephemeralContainerStatuses", "msg", "ContainerStatus"),
        14: F("resize"),
        15: _rep("resourceClaimStatuses", "msg", "PodResourceClaimStatus"),
        16: _rep("hostIPs", "msg", "HostIP"),
    },
    "PodTemplate": {
        1: F("metadata", "msg", "ObjectMeta"), 2: F("template", "msg", "PodTemplateSpec"),
    },
    "PodTemplateSpec": {1: F("metadata", "msg", "ObjectMeta"), 2: F("spec", "msg", "PodSpec")},
    "PortworxVolumeSource": {1: F("volumeID"), 2: F("fsType"), 3: F("readOnly", "bool")},
    "PreferredSchedulingTerm": {
        1: F("weight", "int"), 2: F("preference", "msg", "NodeSelectorTerm"),
    },
    "Probe": {
        1: F("", "inline", "ProbeHandler"), 2: F("initialDelaySeconds", "int"),
        3: F("timeoutSeconds", "int"), 4: F("periodSeconds", "int"),
        5: F("successThreshold", "int"), 6: F("failureThreshold", "int"),
        7: _ptr("terminationGracePeriodSeconds", "int"),
    },
    "ProbeHandler": {
        1: F("exec", "msg", "ExecAction"), 2: F("httpGet", "msg", "HTTPGetAction"),
        3: F("tcpSocket", "msg", "TCPSocketAction"), 4: F("grpc", "msg", "GRPCAction"),
    },
    "ProjectedVolumeSource": {
        1: _nullable("sources", "msg", "VolumeProjection", repeated=True),
        2: _ptr("defaultMode", "int"),
    },
    "QuobyteVolumeSource": {
        1: F("registry"), 2: F("volume"), 3: F("readOnly", "bool"), 4: F("user"), 5: F("group"),
        6: F("tenant"),
    },
    "RBDVolumeSource": {
        1: _nullable("monitors", repeated=True), 2: F("image"), 3: F("fsType"),
        4: F("pool"), 5: F("user"), 6: F("keyring"),
        7: F("secretRef", "msg", "LocalObjectReference"), 8: F("readOnly", "bool"),
    },
    "ReplicaSet": {
        1: F("metadata", "msg", "ObjectMeta"), 2: F("spec", "msg", "ReplicaSetSpec"),
        3: F("status", "msg", "ReplicaSetStatus"),
    },
    "ReplicaSetCondition": {
        1: F("type"), 2: F("status"), 3: F("lastTransitionTime", "time"), 4: F("reason"),
        5: F("message"),
    },
    "ReplicaSetSpec": {
        1: _ptr("replicas", "int"),
        2: F("selector", "msg", "LabelSelector", null=True, keep_zero=True),
        3: F("template", "msg", "PodTemplateSpec"), 4: F("minReadySeconds", "int"),
    },
    "ReplicaSetStatus": {
        1: F("replicas", "int"), 2: F("fullyLabeledReplicas", "int"),
        3: F("observedGeneration", "int"), 4: F("readyReplicas", "int"),
        5: F("availableReplicas", "int"),
        6: _rep("conditions", "msg", "ReplicaSetCondition"),
    },
    "ResourceClaim": {1: F("name"), 2: F("request")},
    "ResourceFieldSelector": {
        1: F("containerName"), 2: F("resource"), 3: F("divisor", "quantity"),
    },
    "ResourceHealth": {1: F("resourceID"), 2: F("health")},
    "ResourceRequirements": {
        1: F("limits", "map", "quantity"), 2: F("requests", "map", "quantity"),
        3: _rep("claims", "msg", "ResourceClaim"),
    },
    "ResourceStatus": {1: F("name"), 2: _rep("resources", "msg", "ResourceHealth")},
    "RollingUpdateDaemonSet": {
        1: _ptr("maxUnavailable", "intstr"),
        2: _ptr("maxSurge", "intstr"),
    },
    "RollingUpdateDeployment": {
        1: _ptr("maxUnavailable", "intstr"),
        2: _ptr("maxSurge", "intstr"),
    },
    "RollingUpdateStatefulSetStrategy": {
        1: _ptr("partition", "int"),
        2: _ptr("maxUnavailable", "intstr"),
    },
    "SELinuxOptions": {1: F("user"), 2: F("role"), 3: F("type"), 4: F("level")},
    "ScaleIOVolumeSource": {
        1: F("gateway"), 2: F("system"),
        3: F("secretRef", "msg", "LocalObjectReference", null=True, keep_zero=True),
        4: F("sslEnabled", "bool"), 5: F("protectionDomain"), 6: F("storagePool"),
        7: F("storageMode"), 8: F("volumeName"), 9: F("fsType"), 10: F("readOnly", "bool"),
    },
    "SeccompProfile": {1: F("type"), 2: _ptr("localhostProfile", "str")},
    "SecretEnvSource": {
        1: F("", "inline", "LocalObjectReference"), 2: _ptr("optional", "bool"),
    },
    "SecretKeySelector": {
        1: F("", "inline", "LocalObjectReference"), 2: F("key"),
        3: _ptr("optional", "bool"),
    },
    "SecretProjection": {
        1: F("", "inline", "LocalObjectReference"),
        2: _rep("items", "msg", "KeyToPath"),
        4: _ptr("optional", "bool"),
    },
    "SecretVolumeSource": {
        1: F("secretName"), 2: _rep("items", "msg", "KeyToPath"),
        3: _ptr("defaultMode", "int"), 4: _ptr("optional", "bool"),
    },
    "SecurityContext": {
        1: F("capabilities", "msg", "Capabilities"), 2: _ptr("privileged", "bool"),
        3: F("seLinuxOptions", "msg", "SELinuxOptions"), 4: _ptr("runAsUser", "int"),
        5: _ptr("runAsNonRoot", "bool"),
        6: _ptr("readOnlyRootFilesystem", "bool"),
        7: _ptr("allowPrivilegeEscalation", "bool"),
        8: _ptr("runAsGroup", "int"), 9: _ptr("procMount", "str"),
        10: F("windowsOptions", "msg", "WindowsSecurityContextOptions"),
        11: F("seccompProfile", "msg", "SeccompProfile"),
        12: F("appArmorProfile", "msg", "AppArmorProfile"),
    },
    "ServiceAccountTokenProjection": {
        1: F("audience"), 2: _ptr("expirationSeconds", "int"),
        3: F("path"),
    },
    "SleepAction": {1: F("seconds", "int")},
    "StatefulSet": {
        1: F("metadata", "msg", "ObjectMeta"), 2: F("spec", "msg", "StatefulSetSpec"),
        3: F("status", "msg", "StatefulSetStatus"),
    },
    "StatefulSetCondition": {
        1: F("type"), 2: F("status"), 3: F("lastTransitionTime", "time"), 4: F("reason"),
        5: F("message"),
    },
    "StatefulSetOrdinals": {1: F("start", "int")},
    "StatefulSetPersistentVolumeClaimRetentionPolicy": {1: F("whenDeleted"), 2: F("whenScaled")},
    "StatefulSetSpec": {
        1: _ptr("replicas", "int"),
        2: F("selector", "msg", "LabelSelector", null=True, keep_zero=True),
        3: F("template", "msg", "PodTemplateSpec"),
        4: _rep("volumeClaimTemplates", "msg", "PersistentVolumeClaim"),
        5: F("serviceName"), 6: F("podManagementPolicy"),
        7: F("updateStrategy", "msg", "StatefulSetUpdateStrategy"),
        8: _ptr("revisionHistoryLimit", "int"), 9: F("minReadySeconds", "int"),
        10: F("persistentVolumeClaimRetentionPolicy", "msg",
              "StatefulSetPersistentVolumeClaimRetentionPolicy"),
        11: F("ordinals", "msg", "StatefulSetOrdinals"),
    },
    "StatefulSetStatus": {
        1: F("observedGeneration", "int"), 2: F("replicas", "int"), 3: F("readyReplicas", "int"),
        4: F("currentReplicas", "int"), 5: F("updatedReplicas", "int"), 6: F("currentRevision"),
        7: F("updateRevision"), 9: _ptr("collisionCount", "int"),
        10: _rep("conditions", "msg", "StatefulSetCondition"),
        11: F("availableReplicas", "int"),
    },
    "StatefulSetUpdateStrategy": {
        1: F("type"), 2: F("rollingUpdate", "msg", "RollingUpdateStatefulSetStrategy"),
    },
    "StorageOSVolumeSource": {
        1: F("volumeName"), 2: F("volumeNamespace"), 3: F("fsType"), 4: F("readOnly", "bool"),
        5: F("secretRef", "msg", "LocalObjectReference"),
    },
    "SuccessPolicy": {
        1: _nullable("rules", "msg", "SuccessPolicyRule", repeated=True),
    },
    "SuccessPolicyRule": {
        1: _ptr("succeededIndexes", "str"), 2: _ptr("succeededCount", "int"),
    },
    "Sysctl": {1: F("name"), 2: F("value")},
    "TCPSocketAction": {1: F("port", "intstr"), 2: F("host")},
    "Toleration": {
        1: F("key"), 2: F("operator"), 3: F("value"), 4: F("effect"),
        5: _ptr("tolerationSeconds", "int"),
    },
    "TopologySpreadConstraint": {
        1: F("maxSkew", "int"), 2: F("topologyKey"), 3: F("whenUnsatisfiable"),
        4: F("labelSelector", "msg", "LabelSelector"), 5: _ptr("minDomains", "int"),
        6: _ptr("nodeAffinityPolicy", "str"), 7: _ptr("nodeTaintsPolicy", "str"),
        8: _rep("matchLabelKeys"),
    },
    "TypedLocalObjectReference": {
        1: _nullable("apiGroup"), 2: F("kind"), 3: F("name"),
    },
    "TypedObjectReference": {
        1: _nullable("apiGroup"), 2: F("kind"), 3: F("name"),
        4: _ptr("namespace", "str"),
    },
    "UncountedTerminatedPods": {1: _rep("succeeded"), 2: _rep("failed")},
    "Volume": {1: F("name"), 2: F("", "inline", "VolumeSource")},
    "VolumeDevice": {1: F("name"), 2: F("devicePath")},
    "VolumeMount": {
        1: F("name"), 2: F("readOnly", "bool"), 3: F("mountPath"), 4: F("subPath"),
        5: _ptr("mountPropagation", "str"), 6: F("subPathExpr"),
        7: _ptr("recursiveReadOnly", "str"),
    },
    "VolumeMountStatus": {
        1: F("name"), 2: F("mountPath"), 3: F("readOnly", "bool"),
        4: _ptr("recursiveReadOnly", "str"),
    },
    "VolumeProjection": {
        1: F("secret", "msg", "SecretProjection"),
        2: F("downwardAPI", "msg", "DownwardAPIProjection"),
        3: F("configMap", "msg", "ConfigMapProjection"),
        4: F("serviceAccountToken", "msg", "ServiceAccountTokenProjection"),
        5: F("clusterTrustBundle", "msg", "ClusterTrustBundleProjection"),
    },
    "VolumeResourceRequirements": {
        1: F("limits", "map", "quantity"), 2: F("requests", "map", "quantity"),
    },
    "VolumeSource": {
        1: F("hostPath", "msg", "HostPathVolumeSource"),
        2: F("emptyDir", "msg", "EmptyDirVolumeSource"),
        3: F("gcePersistentDisk", "msg", "GCEPersistentDiskVolumeSource"),
        4: F("awsElasticBlockStore", "msg", "AWSElasticBlockStoreVolumeSource"),
        5: F("gitRepo", "msg", "GitRepoVolumeSource"),
        6: F("secret", "msg", "SecretVolumeSource"), 7: F("nfs", "msg", "NFSVolumeSource"),
        8: F("iscsi", "msg", "ISCSIVolumeSource"),
        9: F("glusterfs", "msg", "GlusterfsVolumeSource"),
        10: F("persistentVolumeClaim", "msg", "PersistentVolumeClaimVolumeSource"),
        11: F("rbd", "msg", "RBDVolumeSource"), 12: F("flexVolume", "msg", "FlexVolumeSource"),
        13: F("cinder", "msg", "CinderVolumeSource"),
        14: F("cephfs", "msg", "CephFSVolumeSource"),
        15: F("flocker", "msg", "FlockerVolumeSource"),
        16: F("downwardAPI", "msg", "DownwardAPIVolumeSource"),
        17: F("fc", "msg", "FCVolumeSource"), 18: F("azureFile", "msg", "AzureFileVolumeSource"),
        19: F("configMap", "msg", "ConfigMapVolumeSource"),
        20: F("vsphereVolume", "msg", "VsphereVirtualDiskVolumeSource"),
        21: F("quobyte", "msg", "QuobyteVolumeSource"),
        22: F("azureDisk", "msg", "AzureDiskVolumeSource"),
        23: F("photonPersistentDisk", "msg", "PhotonPersistentDiskVolumeSource"),
        24: F("portworxVolume", "msg", "PortworxVolumeSource"),
        25: F("scaleIO", "msg", "ScaleIOVolumeSource"),
        26: F("projected", "msg", "ProjectedVolumeSource"),
        27: F("storageos", "msg", "StorageOSVolumeSource"),
        28: F("csi", "msg", "CSIVolumeSource"),
        29: F("ephemeral", "msg", "EphemeralVolumeSource"),
        30: F("image", "msg", "ImageVolumeSource"),
    },
    "VsphereVirtualDiskVolumeSource": {
        1: F("volumePath"), 2: F("fsType"), 3: F("storagePolicyName"), 4: F("storagePolicyID"),
    },
    "WeightedPodAffinityTerm": {
        1: F("weight", "int"), 2: F("podAffinityTerm", "msg", "PodAffinityTerm"),
    },
    "WindowsSecurityContextOptions": {
        1: _ptr("gmsaCredentialSpecName", "str"),
        2: _ptr("gmsaCredentialSpec", "str"), 3: _ptr("runAsUserName", "str"),
        4: _ptr("hostProcess", "bool"),
    },
}

# (apiVersion, kind) -> root message. Only kinds whose schema above is complete enough to
# reproduce what kubectl sends; anything else is refused.
ROOTS: dict[tuple[str, str], str] = {
    ("v1", "Secret"): "Secret",
    ("v1", "ConfigMap"): "ConfigMap",
    ("v1", "Namespace"): "Namespace",
    ("v1", "ServiceAccount"): "ServiceAccount",
    ("v1", "Pod"): "Pod",
    ("v1", "PodTemplate"): "PodTemplate",
    ("apps/v1", "Deployment"): "Deployment",
    ("apps/v1", "ReplicaSet"): "ReplicaSet",
    ("apps/v1", "StatefulSet"): "StatefulSet",
    ("apps/v1", "DaemonSet"): "DaemonSet",
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
