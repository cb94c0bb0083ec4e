#!/usr/bin/env bash
# Builds the native TensorFlow backend (@tensorflow/tfjs-node 4.22.0) for PrefixLab's tests and benchmarks
# without Google's download servers: the TensorFlow C library comes from a pinned tensorflow-cpu wheel on
# PyPI, tfjs-node's JS and C++ sources from the npm registry, and the N-API binding is compiled here.
# Everything lands in .native/ (git-ignored); backend.ts finds .native/node_modules/@tensorflow/tfjs-node
# when the normal optional dependency is absent. See scripts/native-tf/README.md.
#
# Usage: scripts/native-tf/setup.sh [--force | --clean | --check]
#   (none)   build if needed, then run the smoke test; a finished build is reused (a few seconds)
#   --force  rebuild from scratch (downloads are reused from .native/cache when their hashes match)
#   --clean  delete .native/ and exit
#   --check  only report whether a finished build is present and loads
# Exit status: 0 when ready AND when the backend cannot be had here ("native-tf: unavailable: <reason>"),
# so CI can call it unconditionally. NATIVE_TF_STRICT=1 turns "unavailable" into exit 1.
set -euo pipefail

# ---- pins ---------------------------------------------------------------------------------------------
TF_VERSION=2.12.1   # first tensorflow wheel that ships the C API in a Python-free libtensorflow_cc.so.2
TF_WHEEL=tensorflow_cpu-2.12.1-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
TF_WHEEL_SHA256=d05b8268da5bd87cf43d46da177e3b3ca39f2db0437e56c5e18351db4cde8679
TFJS_NODE_VERSION=4.22.0
TFJS_NODE_SHA1=9883605202424e993b6c7cc4dedfd9282634567c   # npm's dist.shasum of the tarball
BUILD_REV=1         # bump when the build steps below change
# --------------------------------------------------------------------------------------------------------

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/scripts/native-tf"
NATIVE="$ROOT/.native"
CACHE="$NATIVE/cache"
TF_DIR="$NATIVE/tensorflow-$TF_VERSION"
PKG="$NATIVE/node_modules/@tensorflow/tfjs-node"
STAMP="$NATIVE/.setup-complete"
STEP="start"
START=$SECONDS

say() { echo "native-tf: $*"; }
step() { STEP="$1"; say "[$((SECONDS - START))s] $1"; }
BUILDING=0
unavailable() {
  # A failed build leaves no package behind for backend.ts to find (downloads stay in .native/cache).
  if [ "$BUILDING" = 1 ]; then rm -rf "$PKG"; fi
  say "unavailable: $*"
  if [ "${NATIVE_TF_STRICT:-0}" = 1 ]; then exit 1; fi
  exit 0
}
trap 'rc=$?; trap - ERR; unavailable "step \"$STEP\" failed (exit $rc); see the output above"' ERR

MODE="${1:-build}"
case "$MODE" in
  build | --force | --check) ;;
  --clean) rm -rf "$NATIVE"; say "removed $NATIVE"; exit 0 ;;
  -h | --help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: $0 [--force | --clean | --check]" >&2; exit 2 ;;
esac

mkdir -p "$NATIVE"
# Keeps the ~560 MB folder out of git even before the root .gitignore lists /.native/.
printf '# created by scripts/native-tf/setup.sh\n*\n' >"$NATIVE/.gitignore"
# One run at a time (parallel CI jobs sharing a checkout wait here).
if command -v flock >/dev/null; then
  exec 9>"$NATIVE/.lock"
  flock -w 1200 9 || unavailable "another setup.sh run holds $NATIVE/.lock"
fi

# The smoke test: load the package the way the app does (its @tensorflow/tfjs must be the repo's copy),
# check that it registered the 'tensorflow' backend there, and multiply a small matrix.
smoke() {
  TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-1}" node --no-warnings - "$ROOT" "$PKG" <<'EOF'
const { createRequire } = require('node:module');
const path = require('node:path');
const [root, pkg] = process.argv.slice(2);
const appRequire = createRequire(path.join(root, 'package.json'));
const tf = appRequire('@tensorflow/tfjs');
const fromPkg = createRequire(path.join(pkg, 'package.json')).resolve('@tensorflow/tfjs');
const fromApp = appRequire.resolve('@tensorflow/tfjs');
if (fromPkg !== fromApp) throw new Error(`tfjs-node resolves @tensorflow/tfjs to ${fromPkg}, the app to ${fromApp}`);
const node = require(pkg);
if (!tf.findBackendFactory('tensorflow')) throw new Error('no "tensorflow" backend registered with the app\'s tfjs');
tf.setBackend('tensorflow');
const a = tf.tensor2d([[1, 2], [3, 4]]);
const got = Array.from(a.matMul(a).dataSync());
if (got.join() !== '7,10,15,22') throw new Error(`matMul gave ${got}`);
const b = tf.backend();
console.log(`native-tf: ready: @tensorflow/tfjs-node ${node.version['tfjs-node']} on TensorFlow ${b.binding.TF_Version} (backend "${tf.getBackend()}", tfjs-core ${tf.version_core})`);
EOF
}

# ---- prerequisites --------------------------------------------------------------------------------------
STEP="prerequisites"
[ "$(uname -s)" = Linux ] || unavailable "only Linux is supported (the pinned wheel is manylinux x86_64), not $(uname -s)"
[ "$(uname -m)" = x86_64 ] || unavailable "only x86_64 is supported (the pinned wheel is manylinux x86_64), not $(uname -m)"
glibc="$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')" || true
[ -n "$glibc" ] || unavailable "not a glibc system (the manylinux wheel needs glibc >= 2.17)"
[ "$(printf '%s\n2.17\n' "$glibc" | sort -V | head -1)" = 2.17 ] || unavailable "glibc $glibc is older than 2.17"
command -v node >/dev/null || unavailable "node is not on PATH"
napi="$(node -p 'process.versions.napi')"
[ "$napi" -ge 8 ] || unavailable "Node $(node -v) has N-API $napi; the binding needs N-API 8"
[ -f "$ROOT/node_modules/@tensorflow/tfjs/package.json" ] ||
  unavailable "the app's @tensorflow/tfjs is not installed (run npm ci in $ROOT first)"
app_tfjs="$(node -p "require('$ROOT/node_modules/@tensorflow/tfjs/package.json').version")"
[ "$app_tfjs" = "$TFJS_NODE_VERSION" ] ||
  unavailable "the app uses @tensorflow/tfjs $app_tfjs but this script pins tfjs-node $TFJS_NODE_VERSION"

KEY="rev=$BUILD_REV tf=$TF_VERSION tfjs-node=$TFJS_NODE_VERSION lock=$(sha256sum "$HERE/runtime/package-lock.json" | cut -c1-16)"
if [ "$MODE" != --force ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$KEY" ]; then
  STEP="smoke test"
  smoke || unavailable "the existing build in $NATIVE does not load (run $0 --force)"
  exit 0
fi
if [ "$MODE" = --check ]; then unavailable "no finished build in $NATIVE (run $0)"; fi

command -v npm >/dev/null || unavailable "npm is not on PATH"
command -v python3 >/dev/null || unavailable "python3 is not on PATH (pip fetches the TensorFlow wheel)"
python3 -m pip --version >/dev/null 2>&1 || unavailable "python3 has no pip (it fetches the TensorFlow wheel)"
CXX="${CXX:-g++}"
command -v "$CXX" >/dev/null || unavailable "no C++ compiler ($CXX) to build the N-API binding"
echo 'int main(){return 0;}' | "$CXX" -std=c++17 -x c++ - -o /dev/null 2>/dev/null ||
  unavailable "$CXX cannot compile C++17"

say "building into $NATIVE ($KEY)"
BUILDING=1
rm -f "$STAMP"
rm -rf "$PKG"   # no half-built package that backend.ts could find while this runs or after a failure
mkdir -p "$CACHE"

# ---- 1. the TensorFlow C library from PyPI ----------------------------------------------------------------
step "download tensorflow-cpu $TF_VERSION"
sha256_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }
if ! sha256_ok "$CACHE/$TF_WHEEL" "$TF_WHEEL_SHA256"; then
  rm -f "$CACHE/$TF_WHEEL"
  say "downloading $TF_WHEEL (~232 MB) from PyPI"
  # Any Python works: only the shared libraries and C headers are used, so ask for the cp310 build.
  python3 -m pip download --quiet --no-deps --no-cache-dir --only-binary=:all: \
    --python-version 3.10 --implementation cp --abi cp310 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$CACHE" "tensorflow-cpu==$TF_VERSION" ||
    unavailable "pip could not download tensorflow-cpu==$TF_VERSION from the package index"
  sha256_ok "$CACHE/$TF_WHEEL" "$TF_WHEEL_SHA256" ||
    unavailable "$TF_WHEEL is missing or its sha256 differs from the pinned $TF_WHEEL_SHA256"
fi

step "extract libtensorflow from the wheel"
rm -rf "$TF_DIR" "$TF_DIR.partial"
python3 - "$CACHE/$TF_WHEEL" "$TF_DIR.partial" <<'EOF'
import os, shutil, sys, zipfile
wheel, out = sys.argv[1:]
libs = {'tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2'}
# The headers tfjs-node's binding includes, with what they include in turn.
headers = ('tensorflow/include/tensorflow/c/', 'tensorflow/include/tensorflow/tsl/c/',
           'tensorflow/include/tensorflow/core/platform/ctstring', 'tensorflow/include/tensorflow/tsl/platform/ctstring')
found = set()
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        name = info.filename
        if name.endswith('/'):
            continue
        if name in libs:
            dest = os.path.join(out, 'lib', os.path.basename(name)); found.add(name)
        elif name.startswith(headers):
            dest = os.path.join(out, 'include', name[len('tensorflow/include/'):])
        elif name.endswith('.dist-info/LICENSE'):
            dest = os.path.join(out, 'LICENSE')
        else:
            continue
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with z.open(info) as src, open(dest, 'wb') as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        if name in libs:
            os.chmod(dest, 0o755)
missing = libs - found
if missing:
    sys.exit(f'the wheel lacks {sorted(missing)}')
EOF
# The C API (TF_NewSession, TFE_NewContext, ...) lives in libtensorflow_cc.so.2 in these wheels; make sure.
if command -v nm >/dev/null; then
  exported="$(nm -D --defined-only "$TF_DIR.partial/lib/libtensorflow_cc.so.2")"
  for sym in TF_Version TFE_NewContext TFE_Execute TF_NewTensor; do
    grep -Eq " T $sym(@@tensorflow)?\$" <<<"$exported" ||
      unavailable "libtensorflow_cc.so.2 from $TF_WHEEL does not export $sym"
  done
  unset exported
fi
mv "$TF_DIR.partial" "$TF_DIR"

# ---- 2. tfjs-node's runtime dependencies and sources from npm ---------------------------------------------
step "npm ci (tfjs-node's runtime dependencies)"
cp "$HERE/runtime/package.json" "$HERE/runtime/package-lock.json" "$NATIVE/"
(cd "$NATIVE" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null) ||
  unavailable "npm ci of scripts/native-tf/runtime failed (is the npm registry reachable?)"

step "npm pack @tensorflow/tfjs-node@$TFJS_NODE_VERSION"
TGZ="$CACHE/tensorflow-tfjs-node-$TFJS_NODE_VERSION.tgz"
if ! { [ -f "$TGZ" ] && [ "$(sha1sum "$TGZ" | cut -d' ' -f1)" = "$TFJS_NODE_SHA1" ]; }; then
  rm -f "$TGZ"
  (cd "$CACHE" && npm pack "@tensorflow/tfjs-node@$TFJS_NODE_VERSION" --loglevel=error >/dev/null) ||
    unavailable "npm pack @tensorflow/tfjs-node@$TFJS_NODE_VERSION failed (is the npm registry reachable?)"
  [ "$(sha1sum "$TGZ" | cut -d' ' -f1)" = "$TFJS_NODE_SHA1" ] ||
    unavailable "the tfjs-node tarball's sha1 differs from the pinned $TFJS_NODE_SHA1"
fi
# Unpacked by hand, not installed: an npm install would also pull in its own @tensorflow/tfjs, and the
# package must register its backend with the app's copy (Node resolves it from $ROOT/node_modules).
rm -rf "$PKG"
mkdir -p "$PKG"
tar -xzf "$TGZ" -C "$PKG" --strip-components=1

# ---- 3. compile the N-API binding against the wheel's library --------------------------------------------
step "compile tfjs_binding.node"
# Where tfjs-node's index.js will look for the binding (node-pre-gyp picks lib/napi-v<N>).
BINDING="$(cd "$NATIVE" && node -p "require('@mapbox/node-pre-gyp').find(require.resolve('@tensorflow/tfjs-node/package.json'))")"
NAPI_BUILD="$(basename "$(dirname "$BINDING")")"
NAPI_BUILD="${NAPI_BUILD#napi-v}"
mkdir -p "$(dirname "$BINDING")"
# The binding sits in $PKG/lib/napi-vN; the libraries in $TF_DIR/lib. A relative rpath keeps .native movable.
RPATH="\$ORIGIN/$(python3 -c 'import os,sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$TF_DIR/lib" "$(dirname "$BINDING")")"
"$CXX" -shared -fPIC -O2 -std=c++17 -pthread -DNAPI_VERSION="$NAPI_BUILD" \
  -I"$TF_DIR/include" -I"$NATIVE/node_modules/node-api-headers/include" \
  "$PKG/binding/tfjs_backend.cc" "$PKG/binding/tfjs_binding.cc" \
  -L"$TF_DIR/lib" -l:libtensorflow_cc.so.2 -l:libtensorflow_framework.so.2 \
  -Wl,-rpath,"$RPATH" -o "$BINDING.partial"
mv "$BINDING.partial" "$BINDING"
say "compiled $(realpath --relative-to="$ROOT" "$BINDING") (N-API $NAPI_BUILD)"

# ---- 4. prove it loads, then mark the build finished -------------------------------------------------------
step "smoke test"
smoke || unavailable "the freshly built backend does not load (see the error above)"
rm -f "$CACHE/$TF_WHEEL"   # extracted; keep only the ~1 MB tfjs-node tarball
echo "$KEY" >"$STAMP"
say "[$((SECONDS - START))s] done; $(du -sh "$NATIVE" | cut -f1) in $NATIVE"
