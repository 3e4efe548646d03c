"""Issue 7: what the detectors must leave alone, and the one notion of a sensitive key.

Masking that garbles ordinary data (image references, names, counts, kubectl describe output)
makes the agent useless and teaches people to turn detectors off, so each new form gets its
false positives next to it.
"""

from __future__ import annotations

import base64

import pytest

from kgate.proxy.masking import MaskingSettings
from kgate.proxy.masking.detectors import TextScanner, is_reference, key_is_sensitive
from kgate.proxy.masking.placeholders import Placeholders

from .conftest import KEY

SCAN = TextScanner(MaskingSettings(), Placeholders(KEY))

_CERT = ("-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUFormsTestCertificateNotAKey\n"
         "-----END CERTIFICATE-----\n")

ORDINARY = [
    "image: registry.example.com/team/app:1.42.0@sha256:"
    "9fceb02d0ae598e95dc970b74767f19372d61af89fceb02d0ae598e95dc970b7",
    "uid: 123e4567-e89b-12d3-a456-426614174000",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
    "https://git.example.com/org/repo.git",
    "https://user@example.com/path?q=1#frag",
    "http://host:8080/x@y",
    "LOG_LEVEL=warn",
    "passwordPolicy: strict",
    "token_endpoint: https://auth.example.com/oauth/token",
    "tokenUrl: https://auth.example.com/oauth/token",
    "secretName: db-creds",
    "secretRef:\n  name: db-creds\n",
    "valueFrom:\n  secretKeyRef:\n    name: db\n    key: password\n",
    "imagePullSecrets:\n- name: regcred\n",
    "automountServiceAccountToken: false",
    "serviceAccountToken:\n  path: token\n  expirationSeconds: 3600\n",
    "max_tokens: 2048",
    "maxTokens: 4096",
    "token_count=17",
    "num_tokens: 8",
    "tokens: 2048",
    '{"usage": {"prompt_tokens": "12", "completion_tokens": "34", "total_tokens": "46"}}',
    "the token was rotated",
    "token expired",
    "Invalid password for user bob",
    "password reset requested",
    "auth ok",
    "Please enter your password",
    "Password:",
    "passwordless login enabled",
    "password: ''",
    "password: ~",
    "key: app.kubernetes.io/name",
    "keyboard=us",
    "monkey=banana",
    "tokenizer: bert-base",
    "key_length: 32",
    "AWS_ACCESS_KEY_ID_NAME=prod",
    "sk-learn-compatible-version-string-here-long",
    "disk-pressure task-runner-abcdefghijklmnopqrstuvwxyz0123456789",
    "docker run -u 1000:1000 busybox",
    "mysql -u root -p shop",
    "curl -u alice https://example.com/",
    "ssh -p 2222 host",
    "--password-file /run/secrets/db",
    "Authorization: Bearer $TOKEN",
    "npm_config_cache=/tmp/npm",
    'MountVolume.SetUp failed for volume "creds" : secret "app-creds" not found',
    "Error: secret \"db-password\" not found",
    "    DB_PASSWORD:  <set to the key 'password' in secret 'db'>  Optional: false",
    "password:  16 bytes",
    "Mountable secrets:   web-token-x7k2p",
    "Tokens:              web-token-x7k2p",
    "<passwordPolicy>strict</passwordPolicy>",
    "<password/>",
    "Token::new(config)",
    "ca.crt: " + base64.b64encode(_CERT.encode()).decode(),
    "certificate-authority-data: " + base64.b64encode(_CERT.encode()).decode(),
    _CERT,
    "hf_hub_download is a function name",
    "the msg.SG.field of a struct",
    '"secret": {"name": "x"}',
    'CREATE TABLE users (password_hash TEXT, token TEXT)',
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_unchanged(text: str) -> None:
    out, n = SCAN.mask(text)
    assert (out, n) == (text, 0)


SENSITIVE = [
    "DB_PASSWORD", "MYSQL_PWD", "REDIS_AUTH", "PGPASSWORD", "POSTGRES_PASSWORD", "api_key",
    "apiKey", "x-api-key", "client_secret", "clientSecret", "AWS_SECRET_ACCESS_KEY",
    "private_key", "auth_token", "bearer", "passphrase", "SMTP_PASS", "DB_PW", "db.password",
    "spring.datasource.password", "requirepass", "masterauth", "GITHUB_TOKEN", "accessToken",
    "refresh_token", "id_token", "credentials", "creds", "tls.key", "ssh-key", "APP_KEY",
    "licenseKey", "SECRET_KEY_BASE", "signingKey", "authorization", "basicAuth", "mysecret",
    "ghToken", "X-Amz-Signature", "sig",
]
NOT_SENSITIVE = [
    "max_tokens", "token_count", "num_tokens", "maxTokens", "prompt_tokens", "total_tokens",
    "secretName", "secretRef", "secretKeyRef", "passwordFile", "password_file", "tokenizer",
    "keyboard", "monkey", "key_length", "key", "keyId", "AWS_ACCESS_KEY_ID", "access_key_id",
    "client_id", "publicKey", "public_key", "token_endpoint", "tokenUrl", "passwordPolicy",
    "imagePullSecrets", "automountServiceAccountToken", "serviceAccountToken", "secrets",
    "tokens", "author", "keyring", "tokenTTL", "LOG_LEVEL", "secret_name", "password_length",
]


@pytest.mark.parametrize("key", SENSITIVE)
def test_sensitive_keys(key: str) -> None:
    assert key_is_sensitive(key)


@pytest.mark.parametrize("key", NOT_SENSITIVE)
def test_keys_that_name_or_count(key: str) -> None:
    assert not key_is_sensitive(key)


@pytest.mark.parametrize("key", SENSITIVE)
def test_assignment_detector_agrees_with_key_is_sensitive(key: str) -> None:
    """The regex only finds candidates; ``key_is_sensitive`` decides, for every syntax."""
    if "\\" in key or not key.isascii():
        pytest.skip("escaped keys are covered by the forms test")
    out, n = SCAN.mask(f"{key}=Agr33ment-Val-x")
    assert n == 1 and "Agr33ment-Val-x" not in out, key


@pytest.mark.parametrize("key", NOT_SENSITIVE)
def test_assignment_detector_agrees_on_no(key: str) -> None:
    text = f"{key}=plainvalue"
    assert SCAN.mask(text) == (text, 0)


def test_numeric_values_under_sensitive_keys_stay_masked() -> None:
    """A PIN is digits only: only count-like keys let digits through."""
    assert SCAN.mask("password: 123456")[1] == 1
    assert SCAN.mask("DB_PASSWORD=20482048")[1] == 1


@pytest.mark.parametrize("value", ["${DB_PASSWORD}", "$(cat /x)", "{{ .Values.pw }}", "***",
                                   "null", "<redacted>", ""])
def test_references(value: str) -> None:
    assert is_reference(value)


@pytest.mark.parametrize("value", ["hunter2", "changeme", "0", "Pa55"])
def test_not_references(value: str) -> None:
    assert not is_reference(value)


@pytest.mark.parametrize("text", [
    "messages identified by UID, then sorted",
    "if s[:5] in {'pass ', 'PASS '}:",
    "self.password.encode('ascii')",
])
def test_prose_and_code_near_new_forms(text: str) -> None:
    assert SCAN.mask(text) == (text, 0)


def test_oracle_unquoted_identified_by() -> None:
    out, n = SCAN.mask("CREATE USER scott IDENTIFIED BY Tig3r-Oracle;")
    assert n == 1 and "Tig3r-Oracle" not in out and out.endswith(";")


DEPLOYMENT = """\
spec:
  template:
    spec:
      automountServiceAccountToken: false
      imagePullSecrets:
      - name: regcred
      containers:
      - name: web
        image: ghcr.io/org/web:1.2.3
        env:
        - name: DB_PASSWORD
          valueFrom:
            secretKeyRef:
              name: db
              key: password
        - name: TOKEN_FILE
          value: /var/run/secrets/token
        envFrom:
        - secretRef:
            name: app-secrets
      volumes:
      - name: token
        projected:
          sources:
          - serviceAccountToken:
              path: token
              expirationSeconds: 3600
      - name: creds
        secret:
          secretName: creds
          items:
          - key: password
            path: password
"""
DESCRIBE_POD = """\
Containers:
  web:
    Image:          ghcr.io/org/web:1.2.3
    Environment:
      DB_PASSWORD:  <set to the key 'password' in secret 'db'>  Optional: false
      TOKEN_FILE:   /var/run/secrets/token
    Mounts:
      /var/run/secrets/kubernetes.io/serviceaccount from kube-api-access-abcde (ro)
Volumes:
  creds:
    Type:        Secret (a volume populated by a Secret)
    SecretName:  creds
  kube-api-access-abcde:
    TokenExpirationSeconds:  3607
Events:
  Warning  FailedMount  kubelet  MountVolume.SetUp failed for volume "creds" : secret "db" not found
"""
NGINX = """\
    ssl_certificate_key /etc/nginx/tls.key;
    auth_basic "Restricted";
    auth_basic_user_file /etc/nginx/.htpasswd;
    proxy_set_header Authorization "";
"""
PROPERTIES = """\
spring.datasource.url=jdbc:postgresql://db:5432/app
spring.datasource.password=${DB_PASSWORD}
security.oauth2.client.token-uri=https://auth.example.com/token
jwt.secret-key-ref=app-jwt
"""


@pytest.mark.parametrize("text", [DEPLOYMENT, DESCRIBE_POD, NGINX, PROPERTIES],
                         ids=["deployment", "describe pod", "nginx", "properties"])
def test_manifests_and_configs_without_secrets(text: str) -> None:
    assert SCAN.edits(text) == []
