"""Issue 7, class 6: free-text forms the detectors used to miss, each with the value planted.

``FORMS`` is shared with ``tests/attacks/test_detectors_kubectl.py``, which plants every form in
a ConfigMap and a pod log and reads them back through the proxy with real kubectl. Each secret
is a made-up value used nowhere else, so finding it anywhere in the output is a leak. Failure
messages name the form, never the value.
"""

from __future__ import annotations

import base64

import pytest

from kgate.proxy.masking import PLACEHOLDER_RE, MaskingSettings
from kgate.proxy.masking.detectors import TextScanner
from kgate.proxy.masking.placeholders import Placeholders

from .conftest import KEY

SCAN = TextScanner(MaskingSettings(), Placeholders(KEY))

_PEM_KEY = (
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIFormsTestNotARealKeyB64WrappedPemZmFrZSBrZXkgYm9keQoAoGCCqGSM49\n"
    "AwEHoUQDQgAEfakefakefakefakefakefakefakefakefakefakefakefakefakefakeQQ==\n"
    "-----END EC PRIVATE KEY-----\n")
B64_PEM = base64.b64encode(_PEM_KEY.encode()).decode()
PGP_BODY = "lQOYBGZmFrZVBHUFByaXZhdGVLZXlGb3Jtc1Rlc3ROb3RSZWFsQUJDREVGR0hJSktMTU5PUA"

#: (form, text holding the secret, the secret). Secrets are unique fakes.
FORMS: list[tuple[str, str, str]] = [
    ("yaml block literal", "db:\n  password: |\n    Blk-Lit3ral-Pw-91\n  user: app\n",
     "Blk-Lit3ral-Pw-91"),
    ("yaml block folded strip", "password: >-\n  Fold3d-Pw-Val-27\n  and-more-of-it\nx: 1\n",
     "Fold3d-Pw-Val-27"),
    ("yaml next line", "smtp:\n  password:\n    N3xt-L1ne-Pw-44\n  port: 25\n",
     "N3xt-L1ne-Pw-44"),
    ("yaml anchor", "password: &pw Anch0r-Def-Pw-63\nreplica_password: *pw\n",
     "Anch0r-Def-Pw-63"),
    ("yaml alias", "defaults: &dbpw Al1as-Src-Pw-58\nmain:\n  password: *dbpw\n",
     "Al1as-Src-Pw-58"),
    ("yaml tag", "secret: !!str T4gged-Secret-33\n", "T4gged-Secret-33"),
    ("yaml quoted with spaces", "password: 'two w0rds here'\n", "two w0rds here"),
    ("xml element", "<config><password>Xml-El3ment-Pw-12</password></config>",
     "Xml-El3ment-Pw-12"),
    ("xml secret cdata", "<secret><![CDATA[Xml-Cd4ta-Sec-77]]></secret>", "Xml-Cd4ta-Sec-77"),
    ("xml namespaced", "<db:Password>Xml-Ns-Pw-Val-5</db:Password>", "Xml-Ns-Pw-Val-5"),
    ("xml attribute", '<datasource user="app" password="Xml-Attr-Pw-38"/>', "Xml-Attr-Pw-38"),
    ("xml key/value", '<add key="DbPassword" value="Xml-Add-Kv-Pw-19" />', "Xml-Add-Kv-Pw-19"),
    ("spring property", '<property name="password" value="Spr1ng-Prop-Pw-6"/>',
     "Spr1ng-Prop-Pw-6"),
    ("netrc", "machine api.example.com login deploy password N3trc-Pw-Val-82\n",
     "N3trc-Pw-Val-82"),
    ("redis requirepass", "bind 0.0.0.0\nrequirepass R3dis-Req-Pass-40\n", "R3dis-Req-Pass-40"),
    ("redis masterauth", "masterauth R3dis-Mstr-Auth-17\n", "R3dis-Mstr-Auth-17"),
    ("key value config line", "user app\npassword hunter2x-Kv-66\n", "hunter2x-Kv-66"),
    ("sql create user", "CREATE USER app WITH PASSWORD 'Sql-Cr3ate-Pw-23';",
     "Sql-Cr3ate-Pw-23"),
    ("sql identified by", "CREATE USER 'a'@'%' IDENTIFIED BY 'Sql-Ident-Pw-95';",
     "Sql-Ident-Pw-95"),
    ("sql identified with", "ALTER USER a IDENTIFIED WITH mysql_native_password BY "
     "'Sql-W1th-Pw-29';", "Sql-W1th-Pw-29"),
    ("sql set password", "SET PASSWORD FOR 'a'@'%' = 'Sql-S3t-Pw-71';", "Sql-S3t-Pw-71"),
    ("cli --password value", "app --user bob --password Cli-Sp4ce-Pw-31 --port 1",
     "Cli-Sp4ce-Pw-31"),
    ("cli --password=value", "app --password=Cli-Equ4l-Pw-86 -v", "Cli-Equ4l-Pw-86"),
    ("cli --db-password", "migrate --db-password Cli-Db-Pw-Val-48", "Cli-Db-Pw-Val-48"),
    ("cli --token", "agent --token Cli-T0ken-Val-52 --verbose", "Cli-T0ken-Val-52"),
    ("cli quoted with spaces", 'run --password "cli two w0rds"', "cli two w0rds"),
    ("cli json args", '["--db-password", "Cli-Js0n-Arg-64"]', "Cli-Js0n-Arg-64"),
    ("cli yaml args", "args:\n- --api-key\n- Cli-Yaml-Arg-35\n", "Cli-Yaml-Arg-35"),
    ("mysql -p", "mysql -h db -u root -pMysql-Att4ched-9 shop", "Mysql-Att4ched-9"),
    ("sshpass -p", "sshpass -p 'Ssh-P4ss-Val-21' ssh host", "Ssh-P4ss-Val-21"),
    ("redis-cli -a", "redis-cli -h cache -a R3dis-Cli-Auth-8 ping", "R3dis-Cli-Auth-8"),
    ("docker login -p", "docker login -u bot -p D0cker-L0gin-Pw-3 registry.example.com",
     "D0cker-L0gin-Pw-3"),
    ("curl -u", "curl -s -u admin:Curl-Us3r-Pw-13 https://api.example.com/",
     "Curl-Us3r-Pw-13"),
    ("curl --user quoted", "curl --user 'ops:Curl-Qu0ted-Pw-4' https://x.example.com",
     "Curl-Qu0ted-Pw-4"),
    ("redis url empty user", "REDIS=redis://:R3dis-Url-Pw-67@cache:6379/0", "R3dis-Url-Pw-67"),
    ("url password with @", "postgres://app:P@ss-Url-At-90@db/shop", "P@ss-Url-At-90"),
    ("json unicode escaped key", '{"pass\\u0077ord": "Js0n-Esc-Key-Pw-2"}',
     "Js0n-Esc-Key-Pw-2"),
    ("json unicode escaped first letter", '{"\\u0070assword": "Js0n-Esc-Key-Pw-3"}',
     "Js0n-Esc-Key-Pw-3"),
    ("json env name/value", '{"name": "DB_PASSWORD", "value": "Env-Js0n-Val-75"}',
     "Env-Js0n-Val-75"),
    ("yaml env name/value", "env:\n- name: API_TOKEN\n  value: Env-Yaml-Val-46\n",
     "Env-Yaml-Val-46"),
    ("pgp private key block",
     "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n" + PGP_BODY + "\n=abcd\n"
     "-----END PGP PRIVATE KEY BLOCK-----\n", PGP_BODY),
    ("base64-wrapped pem", "tls.pem: " + B64_PEM + "\n", B64_PEM[40:80]),
    ("slack xapp", "SLACK_APP=xapp-1-A052FGTS2DL-5171572773297-610b6a11f4b7eb819e87b767d8",
     "5171572773297-610b6a11f4b7eb819e87b767d8"),
    ("gitlab runner", "glrt-FormsRunnerTok3n_abcdef12", "FormsRunnerTok3n_abcdef12"),
    ("gitlab deploy", "token gldt-FormsDeployTok3n-abcdef3", "FormsDeployTok3n-abcdef3"),
    ("gitlab trigger", "glptt-0123456789abcdef0123456789abcdef01234567",
     "0123456789abcdef0123456789abcdef01234567"),
    ("gitlab ci job", "glcbt-64_FormsCiJobTok3nAbcdefgh", "FormsCiJobTok3nAbcdefgh"),
    ("npm", "//registry.npmjs.org/:_authToken=npm_FormsNpmTok3nAbCdEfGhIjKlMnOpQrStUv12",
     "FormsNpmTok3nAbCdEfGhIjKlMnOpQrStUv12"),
    ("pypi", "pypi-AgEIcHlwaS5vcmcFormsPypiTok3n" + "Ab1" * 14,
     "FormsPypiTok3n" + "Ab1" * 14),
    ("openai", "OPENAI=sk-proj-FormsOpenAiTok3nAbCdEfGhIjKlMnOpQrSt",
     "FormsOpenAiTok3nAbCdEfGhIjKlMnOpQrSt"),
    ("anthropic", "key sk-ant-api03-" + "FormsAnthr0picTok3n" * 5 + "AA",
     "FormsAnthr0picTok3n" * 3),
    ("google api key", "maps AIzaSyFormsG00gleApiKeyAbCdEfGhIjKl1234",
     "SyFormsG00gleApiKeyAbCdEfGhIjKl1234"),
    ("azure account key", "DefaultEndpointsProtocol=https;AccountName=acct;"
     "AccountKey=Az0reAcctKeyForms+Abc/Def==;EndpointSuffix=core.windows.net",
     "Az0reAcctKeyForms+Abc/Def=="),
    ("docker config auth", '{"auths": {"r.example.com": {"auth": "ZG9ja2VyOkQwY2tlckF1dGg="}}}',
     "ZG9ja2VyOkQwY2tlckF1dGg="),
    ("connection string", "Server=db;Database=shop;User Id=sa;Password=C0nnStr-Pw-Val;",
     "C0nnStr-Pw-Val"),
    ("mysql pwd env", "MYSQL_PWD=MysqlPwd-Env-22", "MysqlPwd-Env-22"),
    ("redis auth env", "REDIS_AUTH: R3disAuth-Env-14", "R3disAuth-Env-14"),
    ("pgpassword", "export PGPASSWORD=PgPass-Env-Val-9", "PgPass-Env-Val-9"),
    ("bearer header", "Authorization: Bearer opaqueT0ken-Forms-51", "opaqueT0ken-Forms-51"),
    ("php array", "'password' => 'Php-Arr4y-Pw-61',", "Php-Arr4y-Pw-61"),
]


@pytest.mark.parametrize(("form", "text", "secret"), FORMS, ids=[f[0] for f in FORMS])
def test_form_is_masked(form: str, text: str, secret: str) -> None:
    out, n = SCAN.mask(text)
    assert n >= 1, f"{form}: nothing masked"
    assert secret not in out, f"{form}: the value survived"
    assert PLACEHOLDER_RE.search(out)
    assert SCAN.mask(out) == (out, 0), f"{form}: masking twice changes the text"


#: What must survive around the value (keys, tags, neighbours) for some forms.
KEPT = {
    "yaml block literal": ["  password: |\n", "  user: app"],
    "yaml block folded strip": ["password: >-\n", "x: 1"],
    "yaml next line": ["  password:\n", "  port: 25"],
    "yaml anchor": ["password: &pw ", "replica_password: *pw"],
    "yaml tag": ["secret: !!str "],
    "xml element": ["<config><password>", "</password></config>"],
    "xml secret cdata": ["<secret><![CDATA[", "]]></secret>"],
    "xml attribute": ['user="app" password="'],
    "xml key/value": ['<add key="DbPassword" value="'],
    "netrc": ["machine api.example.com login deploy password "],
    "redis requirepass": ["bind 0.0.0.0\nrequirepass "],
    "sql create user": ["CREATE USER app WITH PASSWORD '", "';"],
    "sql identified by": ["IDENTIFIED BY '"],
    "cli --password value": ["--password ", " --port 1"],
    "cli --token": [" --verbose"],
    "curl -u": ["curl -s -u admin:", " https://api.example.com/"],
    "redis url empty user": ["redis://:", "@cache:6379/0"],
    "url password with @": ["postgres://app:", "@db/shop"],
    "json unicode escaped key": ['{"pass\\u0077ord": "'],
    "json env name/value": ['{"name": "DB_PASSWORD", "value": "'],
    "yaml env name/value": ["- name: API_TOKEN\n  value: "],
    "pgp private key block": ["-----BEGIN PGP PRIVATE KEY BLOCK-----",
                              "-----END PGP PRIVATE KEY BLOCK-----"],
    "base64-wrapped pem": ["tls.pem: "],
    "azure account key": ["AccountName=acct;AccountKey=", ";EndpointSuffix=core.windows.net"],
    "connection string": ["User Id=sa;Password=", ";"],
    "docker config auth": ['{"auths": {"r.example.com": {"auth": "'],
    "bearer header": ["Authorization: Bearer "],
    "php array": ["'password' => '", "',"],
}


@pytest.mark.parametrize("form", sorted(KEPT))
def test_form_keeps_its_syntax(form: str) -> None:
    """Only the value goes: the text around it (keys, tags, other lines) stays."""
    text = next(t for f, t, _s in FORMS if f == form)
    out, _ = SCAN.mask(text)
    for fragment in KEPT[form]:
        assert fragment in out, f"{form}: lost {fragment!r}"


def test_block_scalar_keeps_yaml_shape() -> None:
    out, _ = SCAN.mask("a:\n  password: |\n    line-0ne-x\n    line-tw0-y\n  user: app\n")
    lines = out.split("\n")
    assert lines[1] == "  password: |"
    assert PLACEHOLDER_RE.fullmatch(lines[2].strip()) and lines[2].startswith("    ")
    assert lines[3] == "  user: app"


def test_nested_mapping_under_sensitive_key_is_not_one_value() -> None:
    text = "password:\n  secretKeyRef:\n    name: db\n    key: pw\n"
    assert SCAN.mask(text) == (text, 0)


def test_alias_masks_every_definition_site_only() -> None:
    out, _ = SCAN.mask("a: &x V4lue-One-1\nb: plain\npassword: *x\n")
    assert "V4lue-One-1" not in out and "b: plain" in out and "password: *x" in out


@pytest.mark.parametrize(("text", "gone", "kept"), [
    ('password: "multi\n  line v4lue"\nnext: 1', "line v4lue", "next: 1"),
    ("password: 'multi\n  line v''alue'\nnext: 1", "v''alue", "next: 1"),
    ("passwords:\n- aaa-1111\n- bbb-2222\nnext: x", "bbb-2222", "passwords:\n- kgate:"),
    ("passwords:\n  - aaa-1111\n  - bbb-2222\nnext: x", "aaa-1111", "  - kgate:"),
    ("password: |\n  user: x\n  pass: y-1\nz: 1", "pass: y-1", "z: 1"),
    ('password: "unterminated-v4l', "unterminated-v4l", 'password: "'),
    ("defaults: &pw\n  Xa-12-blk\np:\n  password: *pw", "Xa-12-blk", "password: *pw"),
    ('{"password": 123456, "x": 1}', "123456", ', "x": 1}'),
    ("{password: abc-1234, user: bob}", "abc-1234", ", user: bob}"),
])
def test_yaml_and_json_edges(text: str, gone: str, kept: str) -> None:
    out, n = SCAN.mask(text)
    assert n >= 1 and gone not in out and kept in out


@pytest.mark.parametrize("text", ['{"password":null,"x":1}', '{"token": true}',
                                  'password: "${DB_PASSWORD}"'])
def test_json_literals_are_not_values(text: str) -> None:
    assert SCAN.mask(text) == (text, 0)


@pytest.mark.parametrize("form", ["yaml alias", "base64-wrapped pem"])
def test_same_text_scanned_twice_is_masked_twice(form: str) -> None:
    """Per-text shortcuts (aliases chased, base64 runs decoded) must not outlive one scan:
    a streaming caller masks the same line window by window."""
    text, secret = next((t, s) for f, t, s in FORMS if f == form)
    for _ in range(2):
        out, n = SCAN.mask(text)
        assert n >= 1 and secret not in out
