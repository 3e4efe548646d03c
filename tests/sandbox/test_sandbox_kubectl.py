"""Real kubectl 1.32 against the sandbox over TLS: what a user sees must match a real cluster."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import yaml

from kgate.sandbox.runner import RunningSandbox
from tests.fixtures.kube import KubectlRunner, popen_kubectl

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello
  labels: {app: hello}
spec:
  replicas: REPLICAS
  selector: {matchLabels: {app: hello}}
  template:
    metadata:
      labels: {app: hello}
      annotations: {team: blue}
    spec:
      containers:
      - name: hello
        image: nginx:1.27
        env: [{name: LOG_LEVEL, value: __LEVEL__}]
"""


def manifest(tmp_path: Path, replicas: int = 2, level: str = "info") -> Path:
    path = tmp_path / f"deploy-{replicas}-{level}.yaml"
    path.write_text(DEPLOYMENT.replace("REPLICAS", str(replicas)).replace("__LEVEL__", level))
    return path


def stored(sandbox: RunningSandbox, group: str, resource: str, ns: str | None,
           name: str) -> dict | None:
    return sandbox.run(lambda: sandbox.store.get(group, resource, ns, name))


def test_get_table_yaml_and_json(sandbox_kubeconfig: Path, kubectl: KubectlRunner) -> None:
    out = kubectl("get", "namespaces", kubeconfig=sandbox_kubeconfig).stdout
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "AGE"]
    assert {line.split()[0] for line in lines[1:]} == {"default", "kube-public", "kube-system"}
    assert all(line.split()[1] == "Active" for line in lines[1:])
    doc = yaml.safe_load(kubectl("get", "ns", "default", "-o", "yaml",
                                 kubeconfig=sandbox_kubeconfig).stdout)
    assert doc["kind"] == "Namespace" and doc["metadata"]["uid"]
    listed = json.loads(kubectl("get", "ns", "-o", "json", kubeconfig=sandbox_kubeconfig).stdout)
    assert listed["kind"] == "List" and len(listed["items"]) == 3


def test_apply_twice_then_scale_and_rollout(sandbox_kubeconfig: Path, kubectl: KubectlRunner,
                                            tmp_path: Path, sandbox: RunningSandbox) -> None:
    first = kubectl("apply", "-f", str(manifest(tmp_path)), kubeconfig=sandbox_kubeconfig)
    assert first.stdout.strip() == "deployment.apps/hello created"
    second = kubectl("apply", "-f", str(manifest(tmp_path, level="debug")),
                     kubeconfig=sandbox_kubeconfig)
    assert second.stdout.strip() == "deployment.apps/hello configured"
    dep = stored(sandbox, "apps", "deployments", "default", "hello")
    assert dep is not None
    assert dep["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "LOG_LEVEL", "value": "debug"}]
    assert dep["metadata"]["generation"] == 2
    kubectl("rollout", "status", "deployment/hello", "--timeout=20s",
            kubeconfig=sandbox_kubeconfig)
    kubectl("scale", "deployment/hello", "--replicas=4", kubeconfig=sandbox_kubeconfig)
    kubectl("rollout", "status", "deployment/hello", "--timeout=20s",
            kubeconfig=sandbox_kubeconfig)
    row = kubectl("get", "deploy", "hello", "--no-headers",
                  kubeconfig=sandbox_kubeconfig).stdout.split()
    assert row[:4] == ["hello", "4/4", "4", "4"]
    pods = json.loads(kubectl("get", "pods", "-l", "app=hello", "-o", "json",
                              kubeconfig=sandbox_kubeconfig).stdout)["items"]
    assert len(pods) == 4
    assert all(p["status"]["phase"] == "Running" for p in pods)
    assert all(p["metadata"]["annotations"] == {"team": "blue"} for p in pods)
    assert all(p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet" for p in pods)


def test_server_side_apply_dry_run_and_diff(sandbox_kubeconfig: Path, kubectl: KubectlRunner,
                                            tmp_path: Path, sandbox: RunningSandbox) -> None:
    dry = kubectl("apply", "--dry-run=server", "-f", str(manifest(tmp_path)),
                  kubeconfig=sandbox_kubeconfig)
    assert "(server dry run)" in dry.stdout
    assert stored(sandbox, "apps", "deployments", "default", "hello") is None
    ssa = kubectl("apply", "--server-side", "-f", str(manifest(tmp_path)),
                  kubeconfig=sandbox_kubeconfig)
    assert ssa.stdout.strip() == "deployment.apps/hello serverside-applied"
    same = kubectl("diff", "-f", str(manifest(tmp_path)), kubeconfig=sandbox_kubeconfig,
                   check=False)
    assert same.returncode == 0, same.stderr
    changed = kubectl("diff", "-f", str(manifest(tmp_path, replicas=5)),
                      kubeconfig=sandbox_kubeconfig, check=False)
    assert changed.returncode == 1, changed.stderr
    assert "+  replicas: 5" in changed.stdout
    dep = stored(sandbox, "apps", "deployments", "default", "hello")
    assert dep is not None and dep["spec"]["replicas"] == 2
    kubectl("apply", "--server-side", "-f", str(manifest(tmp_path, replicas=3)),
            kubeconfig=sandbox_kubeconfig)
    dep = stored(sandbox, "apps", "deployments", "default", "hello")
    assert dep is not None and dep["spec"]["replicas"] == 3


def test_create_replace_label_delete(sandbox_kubeconfig: Path, kubectl: KubectlRunner,
                                     tmp_path: Path, sandbox: RunningSandbox) -> None:
    cm = tmp_path / "cm.yaml"
    cm.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: '1'}\n")
    assert kubectl("create", "-f", str(cm), kubeconfig=sandbox_kubeconfig
                   ).stdout.strip() == "configmap/cfg created"
    live = yaml.safe_load(kubectl("get", "cm", "cfg", "-o", "yaml",
                                  kubeconfig=sandbox_kubeconfig).stdout)
    live["data"]["a"] = "2"
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(live))
    assert kubectl("replace", "-f", str(edited), kubeconfig=sandbox_kubeconfig
                   ).stdout.strip() == "configmap/cfg replaced"
    stale = kubectl("replace", "-f", str(edited), kubeconfig=sandbox_kubeconfig, check=False)
    assert stale.returncode == 1
    assert ('Operation cannot be fulfilled on configmaps "cfg": the object has been modified; '
            "please apply your changes to the latest version and try again") in stale.stderr
    kubectl("label", "cm", "cfg", "team=blue", kubeconfig=sandbox_kubeconfig)
    obj = stored(sandbox, "", "configmaps", "default", "cfg")
    assert obj is not None and obj["data"] == {"a": "2"}
    assert obj["metadata"]["labels"] == {"team": "blue"}
    assert kubectl("delete", "cm", "cfg", kubeconfig=sandbox_kubeconfig
                   ).stdout.strip() == 'configmap "cfg" deleted'
    assert stored(sandbox, "", "configmaps", "default", "cfg") is None


def test_namespace_delete_cascades(sandbox_kubeconfig: Path, kubectl: KubectlRunner,
                                   sandbox: RunningSandbox) -> None:
    kubectl("create", "namespace", "team-a", kubeconfig=sandbox_kubeconfig)
    kubectl("-n", "team-a", "create", "-f", "-", kubeconfig=sandbox_kubeconfig,
            input="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    kubectl("delete", "namespace", "team-a", "--timeout=20s", kubeconfig=sandbox_kubeconfig)
    assert stored(sandbox, "", "configmaps", "team-a", "c") is None
    gone = kubectl("get", "ns", "team-a", kubeconfig=sandbox_kubeconfig, check=False)
    assert 'namespaces "team-a" not found' in gone.stderr


def test_delete_dry_run_server_keeps_everything(sandbox_kubeconfig: Path, kubectl: KubectlRunner,
                                                 sandbox: RunningSandbox) -> None:
    kubectl("create", "namespace", "team-b", kubeconfig=sandbox_kubeconfig)
    for name in ("c1", "c2"):
        kubectl("-n", "team-b", "create", "configmap", name, kubeconfig=sandbox_kubeconfig)
    one = kubectl("-n", "team-b", "delete", "cm", "c1", "--dry-run=server",
                  kubeconfig=sandbox_kubeconfig)
    assert one.stdout.strip() == 'configmap "c1" deleted (server dry run)'
    kubectl("-n", "team-b", "delete", "cm", "--all", "--dry-run=server",
            kubeconfig=sandbox_kubeconfig)
    kubectl("delete", "ns", "team-b", "--dry-run=server", kubeconfig=sandbox_kubeconfig)
    assert stored(sandbox, "", "namespaces", None, "team-b") is not None
    assert stored(sandbox, "", "configmaps", "team-b", "c1") is not None
    assert stored(sandbox, "", "configmaps", "team-b", "c2") is not None


def test_error_messages_as_kubectl_prints_them(sandbox_kubeconfig: Path,
                                               kubectl: KubectlRunner) -> None:
    missing = kubectl("get", "pod", "nope", kubeconfig=sandbox_kubeconfig, check=False)
    assert missing.returncode == 1
    assert missing.stderr.strip() == 'Error from server (NotFound): pods "nope" not found'
    deploy = kubectl("get", "deploy", "nope", kubeconfig=sandbox_kubeconfig, check=False)
    assert 'deployments.apps "nope" not found' in deploy.stderr
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dup}\n"
    kubectl("create", "-f", "-", input=cm, kubeconfig=sandbox_kubeconfig)
    dup = kubectl("create", "-f", "-", input=cm, kubeconfig=sandbox_kubeconfig, check=False)
    assert 'Error from server (AlreadyExists): error when creating "STDIN": configmaps "dup" ' \
           "already exists" in dup.stderr
    bad = kubectl("create", "-f", "-", kubeconfig=sandbox_kubeconfig, check=False,
                  input="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n")
    assert 'The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": ' \
           "a lowercase RFC 1123 subdomain" in bad.stderr
    nons = kubectl("-n", "nowhere", "create", "-f", "-", input=cm, kubeconfig=sandbox_kubeconfig,
                   check=False)
    assert 'namespaces "nowhere" not found' in nons.stderr


def test_wrong_token_is_unauthorized(sandbox: RunningSandbox, kubectl: KubectlRunner,
                                     tmp_path: Path) -> None:
    config = sandbox.write_kubeconfig(tmp_path / "bad" / "config", token="not-a-token")
    proc = kubectl("get", "pods", kubeconfig=config, check=False)
    assert proc.returncode == 1
    # kubectl 1.32 reads discovery errors raw, so it prints client-go's generic 401 text
    # (older kubectl printed "(Unauthorized)", the Status message, which we also send).
    assert "error: You must be logged in to the server (" in proc.stderr
    raw = kubectl("get", "--raw", "/api/v1/namespaces", kubeconfig=config, check=False)
    assert raw.returncode == 1 and "Unauthorized" in raw.stderr


def test_whoami_can_i_and_api_resources(sandbox_kubeconfig: Path,
                                        kubectl: KubectlRunner) -> None:
    who = kubectl("auth", "whoami", "-o", "json", kubeconfig=sandbox_kubeconfig)
    assert json.loads(who.stdout)["status"]["userInfo"]["username"] == "sandbox-admin"
    assert kubectl("auth", "can-i", "delete", "pods", kubeconfig=sandbox_kubeconfig
                   ).stdout.strip() == "yes"
    assert kubectl("auth", "can-i", "create", "deployments", "--subresource=scale", "-n", "x",
                   kubeconfig=sandbox_kubeconfig).stdout.strip() == "yes"
    listed = kubectl("auth", "can-i", "--list", kubeconfig=sandbox_kubeconfig).stdout
    assert listed.splitlines()[1].split() == ["*.*", "[]", "[]", "[*]"]
    table = kubectl("api-resources", kubeconfig=sandbox_kubeconfig).stdout
    short = {line.split()[0]: line.split()[1] for line in table.splitlines()[1:]
             if len(line.split()) == 5}
    assert short["pods"] == "po" and short["deployments"] == "deploy"
    assert short["configmaps"] == "cm" and short["serviceaccounts"] == "sa"
    in_all = kubectl("api-resources", "--categories=all", "-o", "name",
                     kubeconfig=sandbox_kubeconfig).stdout.split()
    assert "pods" in in_all and "deployments.apps" in in_all


def test_selectors_and_chunked_listing(sandbox_kubeconfig: Path, kubectl: KubectlRunner) -> None:
    docs = "".join(
        f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}, labels: {{tier: {t}}}}}\n"
        for i, t in enumerate(["web", "web", "db", "cache", "db"]))
    docs += "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain}\n"
    kubectl("create", "-f", "-", input=docs, kubeconfig=sandbox_kubeconfig)

    def names(*args: str) -> list[str]:
        return kubectl("get", "cm", "-o", "name", *args, kubeconfig=sandbox_kubeconfig
                       ).stdout.split()

    assert names("-l", "tier=web") == ["configmap/c0", "configmap/c1"]
    assert names("-l", "tier in (db,cache)") == ["configmap/c2", "configmap/c3", "configmap/c4"]
    assert names("-l", "tier notin (web,db)") == ["configmap/c3", "configmap/plain"]
    assert names("-l", "!tier") == ["configmap/plain"]
    assert names("-l", "tier,tier!=db") == ["configmap/c0", "configmap/c1", "configmap/c3"]
    assert names("--field-selector", "metadata.name=c2") == ["configmap/c2"]
    paged = kubectl("get", "cm", "--chunk-size=2", "-v=6", kubeconfig=sandbox_kubeconfig)
    assert paged.stderr.count("?limit=2 200") == 1
    assert paged.stderr.count("continue=") == 2
    assert len(paged.stdout.splitlines()) == 1 + 6
    bad = kubectl("get", "cm", "--field-selector", "spec.nope=1",
                  kubeconfig=sandbox_kubeconfig, check=False)
    assert "field label not supported: spec.nope" in bad.stderr


def test_get_watch_streams_new_objects(sandbox_kubeconfig: Path, kubectl: KubectlRunner,
                                       kubectl_bin: str, tmp_path: Path) -> None:
    proc = popen_kubectl(kubectl_bin, ["get", "configmaps", "-w"], sandbox_kubeconfig, tmp_path)
    try:
        assert proc.stdout is not None
        kubectl("create", "configmap", "first", "--from-literal=a=b",
                kubeconfig=sandbox_kubeconfig)
        lines = [proc.stdout.readline() for _ in range(2)]
        assert lines[0].split() == ["NAME", "DATA", "AGE"]
        assert lines[1].split()[:2] == ["first", "1"]
        kubectl("create", "configmap", "second", kubeconfig=sandbox_kubeconfig)
        assert proc.stdout.readline().split()[:2] == ["second", "0"]
    finally:
        proc.kill()
        proc.communicate(timeout=10)


def test_create_secret_from_literal(sandbox_kubeconfig: Path, kubectl: KubectlRunner,
                                    sandbox: RunningSandbox) -> None:
    # kubectl sends this body as protobuf: the sandbox decodes it (kgate.protojson).
    proc = kubectl("create", "secret", "generic", "db", "--from-literal=password=hunter2",
                   kubeconfig=sandbox_kubeconfig)
    assert proc.stdout.strip() == "secret/db created"
    secret = stored(sandbox, "", "secrets", "default", "db")
    assert secret is not None and secret["type"] == "Opaque"
    assert base64.b64decode(secret["data"]["password"]) == b"hunter2"


def test_secret_string_data_is_folded(sandbox_kubeconfig: Path, kubectl: KubectlRunner,
                                      sandbox: RunningSandbox) -> None:
    kubectl("apply", "-f", "-", kubeconfig=sandbox_kubeconfig, input=(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {token: abc}\n"))
    secret = stored(sandbox, "", "secrets", "default", "s")
    assert secret is not None and "stringData" not in secret
    assert secret["data"] == {"token": base64.b64encode(b"abc").decode()}
    bad = kubectl("create", "-f", "-", kubeconfig=sandbox_kubeconfig, check=False, input=(
        '{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "b"}, '
        '"data": {"k": "not base64!"}}'))
    assert bad.returncode == 1 and "illegal base64 data" in bad.stderr


def test_edit_with_an_editor(sandbox_kubeconfig: Path, kubectl: KubectlRunner, tmp_path: Path,
                             sandbox: RunningSandbox) -> None:
    kubectl("create", "configmap", "ed", "--from-literal=color=red",
            kubeconfig=sandbox_kubeconfig)
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/color: red/color: green/' \"$1\"\n")
    editor.chmod(0o755)
    out = kubectl("edit", "cm", "ed", kubeconfig=sandbox_kubeconfig,
                  extra_env={"KUBE_EDITOR": str(editor)})
    assert out.stdout.strip() == "configmap/ed edited"
    obj = stored(sandbox, "", "configmaps", "default", "ed")
    assert obj is not None and obj["data"] == {"color": "green"}


def test_demo_seed_looks_like_a_cluster(demo_sandbox: RunningSandbox, kubectl: KubectlRunner,
                                        tmp_path: Path) -> None:
    config = demo_sandbox.write_kubeconfig(tmp_path / "demo" / "config")
    kubectl("rollout", "status", "-n", "dev", "deploy/web", "--timeout=20s", kubeconfig=config)
    pods = kubectl("get", "pods", "-A", "--no-headers", kubeconfig=config).stdout.splitlines()
    assert len(pods) == 5 and all(line.split()[3] == "Running" for line in pods)
    secrets = kubectl("get", "secrets", "-n", "dev", "-o", "name", kubeconfig=config).stdout
    assert "secret/web-tls" in secrets
    wide = kubectl("get", "pods", "-n", "dev", "-o", "wide", kubeconfig=config).stdout
    assert "sandbox-node" in wide and "10.244." in wide



def test_describe_shows_controller_events(demo_sandbox: RunningSandbox, kubectl: KubectlRunner,
                                          tmp_path: Path) -> None:
    config = demo_sandbox.write_kubeconfig(tmp_path / "demo" / "config")
    kubectl("rollout", "status", "-n", "dev", "deploy/api", "--timeout=20s", kubeconfig=config)
    described = kubectl("describe", "deployment", "-n", "dev", "api", kubeconfig=config).stdout
    assert "Replicas:               1 desired | 1 updated | 1 total | 1 available" in described
    assert "ScalingReplicaSet" in described and "Scaled up replica set api-" in described
    events = kubectl("get", "events", "-n", "dev", "--field-selector", "reason=Scheduled",
                     "-o", "name", kubeconfig=config).stdout.split()
    assert len(events) == 3


def test_create_token_honours_audience_and_duration(sandbox_kubeconfig: Path,
                                                    kubectl: KubectlRunner) -> None:
    kubectl("create", "serviceaccount", "bot", kubeconfig=sandbox_kubeconfig)
    token = kubectl("create", "token", "bot", kubeconfig=sandbox_kubeconfig).stdout.strip()
    assert token.count(".") == 2
    review = json.loads(kubectl("create", "token", "bot", "--audience=vault", "--duration=10m",
                                "-o", "json", kubeconfig=sandbox_kubeconfig).stdout)
    assert review["spec"]["audiences"] == ["vault"]
    assert review["spec"]["expirationSeconds"] == 600
    missing = kubectl("create", "token", "nobody", kubeconfig=sandbox_kubeconfig, check=False)
    assert missing.returncode == 1
    assert 'serviceaccounts "nobody" not found' in missing.stderr


TYPO = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: typo, labelz: {a: b}}\ndat: {k: v}\n"


def test_field_validation_rejects_typos_like_a_real_cluster(
        sandbox_kubeconfig: Path, kubectl: KubectlRunner, sandbox: RunningSandbox) -> None:
    strict = kubectl("apply", "--validate=strict", "-f", "-", input=TYPO,
                     kubeconfig=sandbox_kubeconfig, check=False)
    assert strict.returncode == 1
    assert strict.stderr.strip() == (
        'Error from server (BadRequest): error when creating "STDIN": ConfigMap in version "v1" '
        'cannot be handled as a ConfigMap: strict decoding error: unknown field "dat", '
        'unknown field "metadata.labelz"')
    ssa = kubectl("apply", "--server-side", "-f", "-", input=TYPO,
                  kubeconfig=sandbox_kubeconfig, check=False)
    assert ssa.returncode == 1 and "failed to create typed patch object (default/typo; /v1, " \
        "Kind=ConfigMap): errors:\n  .dat: field not declared in schema" in ssa.stderr
    warn = kubectl("apply", "--validate=warn", "-f", "-", input=TYPO,
                   kubeconfig=sandbox_kubeconfig)
    assert 'Warning: unknown field "dat"' in warn.stderr
    kept = stored(sandbox, "", "configmaps", "default", "typo")
    assert kept is not None and "dat" not in kept and "labelz" not in kept["metadata"]
    again = kubectl("apply", "-f", "-", input=TYPO, kubeconfig=sandbox_kubeconfig, check=False)
    assert again.returncode == 1
    assert 'strict decoding error: unknown field "dat", unknown field "metadata.labelz"' \
        in again.stderr


def test_create_subcommands_sending_protobuf(sandbox_kubeconfig: Path,
                                             kubectl: KubectlRunner) -> None:
    """Typed ``kubectl create <kind>`` posts protobuf; each must be decoded and stored."""
    kc = sandbox_kubeconfig
    commands = [
        ["create", "job", "j1", "--image=busybox", "--", "echo", "hi"],
        ["create", "cronjob", "cj1", "--image=busybox", "--schedule=*/5 * * * *"],
        ["create", "job", "j2", "--from=cronjob/cj1"],
        ["create", "service", "clusterip", "s1", "--tcp=80:8080"],
        ["create", "service", "externalname", "s2", "--external-name=example.com"],
        ["create", "role", "r1", "--verb=get", "--resource=pods"],
        ["create", "rolebinding", "rb1", "--role=r1", "--user=bob"],
        ["create", "clusterrole", "cr1", "--verb=get", "--resource=nodes"],
        ["create", "clusterrolebinding", "crb1", "--clusterrole=cr1", "--user=bob"],
        ["create", "ingress", "i1", "--rule=foo.com/bar=s1:80"],
        ["create", "poddisruptionbudget", "p1", "--selector=app=x", "--min-available=1"],
        ["create", "priorityclass", "pc1", "--value=1000"],
        ["create", "quota", "q1", "--hard=pods=10"],
    ]
    for args in commands:
        assert kubectl(*args, kubeconfig=kc).stdout.strip().endswith(" created")
    names = kubectl("get", "jobs,cronjobs,svc,roles,rolebindings,ingresses,pdb,quota", "-o",
                    "name", kubeconfig=kc).stdout.split()
    assert {"job.batch/j2", "cronjob.batch/cj1", "service/s2", "ingress.networking.k8s.io/i1",
            "resourcequota/q1"} <= set(names)
    owner = json.loads(kubectl("get", "job", "j2", "-o", "json", kubeconfig=kc).stdout)
    assert owner["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
