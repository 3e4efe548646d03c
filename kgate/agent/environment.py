"""The agent's environment: the broker's credentials out, the session's kubeconfig in.

The agent runs as the same OS user as kgate, so anything in kgate's environment that opens a door
to the cluster or a cloud account would let it walk around the gate: another ``KUBECONFIG``, the
in-cluster service-account variables, cloud SDK credentials, kgate's own state location. They are
removed here, in one list, which ``docs/cli.md`` prints. Files on disk (``~/.kube/config``,
``~/.aws/credentials``) are not reachable through the environment; keeping the agent from reading
them is confinement's job, not this module's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

#: Variables removed by exact name.
REMOVED_NAMES: tuple[str, ...] = (
    "KUBECONFIG",
    "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_OAUTH_ACCESS_TOKEN", "GOOGLE_CREDENTIALS",
    "GOOGLE_GHA_CREDS_PATH", "GCE_METADATA_HOST",
    "VAULT_TOKEN", "VAULT_ADDR", "CONSUL_HTTP_TOKEN",
    "DBUS_SESSION_BUS_ADDRESS", "PYTHON_KEYRING_BACKEND",
    "HELM_KUBETOKEN", "HELM_KUBECONTEXT", "HELM_KUBEAPISERVER",
)
#: Variables removed by prefix: whole families of cloud and cluster credentials, and kgate's
#: own settings (the agent learns nothing about where kgate keeps its state).
REMOVED_PREFIXES: tuple[str, ...] = (
    "KUBERNETES_", "KUBECTL_", "AWS_", "AZURE_", "ARM_", "CLOUDSDK_", "GCLOUD_",
    "DIGITALOCEAN_", "OCI_CLI_", "IBMCLOUD_", "ALICLOUD_", "HCLOUD_", "LINODE_", "SCW_",
    "OS_PASSWORD", "OS_TOKEN", "OS_APPLICATION_CREDENTIAL", "KGATE_",
)


def is_removed(name: str) -> bool:
    """True for a variable the agent must not inherit."""
    upper = name.upper()
    return upper in REMOVED_NAMES or upper.startswith(REMOVED_PREFIXES)


def agent_environment(base: Mapping[str, str], *, kubeconfig: Path, session_id: str
                      ) -> dict[str, str]:
    """``base`` without the broker's credentials, plus the session's kubeconfig and id."""
    env = {k: v for k, v in base.items() if not is_removed(k)}
    env["KUBECONFIG"] = str(kubeconfig)
    env["KGATE_SESSION"] = session_id
    return env


def removed_from(base: Mapping[str, str]) -> list[str]:
    """Names of the variables ``agent_environment`` drops from ``base`` (for the summary)."""
    return sorted(k for k in base if is_removed(k))
