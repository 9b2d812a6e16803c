#!/usr/bin/env bash
# Build Ollama (CPU) from the Go module proxy and cache the binary where the opt-in
# Ollama test (tests/agent/models/test_models_ollama.py) looks for it:
#   ~/.cache/ehr-agent/ollama-$VERSION/ollama   (and build.log beside it)
#
# Why each step: the module zip omits llama.cpp's vendor/ folder, so its three header-only
# libraries come from elsewhere: nlohmann/json and stb_image from Debian
# (nlohmann-json3-dev, libstb-dev), miniaudio.h from the sdist of PyPI's `miniaudio`.
# Without -march=native the cgo build of ggml is baseline x86-64 (no AVX): the 270M model
# then ran at about 2.4 s a token instead of about 0.3 s on this 2-core machine.
# On this machine (2 cores shared, nice 10): 1069 s (about 18 min) wall from a cold Go
# build cache; this script again, with part of that cache warm: 471 s.
#
#   bash bench/ollama_build.sh            # VERSION=0.17.4 by default
set -euo pipefail
VERSION="${VERSION:-0.17.4}"
CACHE="${EHR_AGENT_OLLAMA_CACHE:-$HOME/.cache/ehr-agent}/ollama-$VERSION"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$CACHE" "$WORK/vendor/miniaudio" "$WORK/bin"

if ! dpkg -s nlohmann-json3-dev libstb-dev >/dev/null 2>&1; then
  apt-get install -y -q nlohmann-json3-dev libstb-dev
fi
python3 -m pip download --no-deps --no-binary :all: miniaudio -d "$WORK" -q
tar -xzf "$WORK"/miniaudio-*.tar.gz -C "$WORK"
cp "$WORK"/miniaudio-*/miniaudio/miniaudio.h "$WORK/vendor/miniaudio/"

export CGO_ENABLED=1 GOFLAGS=-buildvcs=false GOBIN="$WORK/bin"
export CGO_CPPFLAGS="-I/usr/include -I$WORK/vendor"
export CGO_CFLAGS="-O3 -march=native" CGO_CXXFLAGS="-O3 -march=native"
start=$(date +%s)
nice -n 10 go install -ldflags "-X github.com/ollama/ollama/version.Version=$VERSION" \
  "github.com/ollama/ollama@v$VERSION" >"$CACHE/build.log" 2>&1
echo "built in $(( $(date +%s) - start )) s" >>"$CACHE/build.log"
install -m 0755 "$WORK/bin/ollama" "$CACHE/ollama"
echo "$CACHE/ollama"
