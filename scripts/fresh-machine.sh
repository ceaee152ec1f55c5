#!/usr/bin/env bash
# Reproduces a fresh machine that has only Node, and runs the README's test command there.
#
#   sudo scripts/fresh-machine.sh                 # npm ci, then `npm test` with no network
#   sudo scripts/fresh-machine.sh -- CMD ARGS...  # npm ci, then CMD ARGS... in the same place
#   scripts/fresh-machine.sh --can-run            # exit 0 if this machine allows it, else 3
#
# 1. A fresh clone of this repository's HEAD (committed work only) in a temporary folder.
# 2. `npm ci` there, with the network (the registry is the only thing it needs).
# 3. A new mount and network namespace (`unshare -m -n`): only a loopback interface, so nothing
#    is downloaded and nothing answers on 127.0.0.1:5432, 3306 or 6379; the machine's PostgreSQL
#    (binaries, libraries, socket folder) and Chromium are hidden under empty mounts.
# 4. `npm test` (or CMD) in the clone. The suites must bring PostgreSQL and Chromium from npm.
#
# Needs root (namespaces and mounts), util-linux `unshare`, iproute2 `ip`, git. Exits 3 when the
# namespaces cannot be made here (e.g. an unprivileged container), so a caller can say so.
# FRESH_KEEP=1 keeps the clone; FRESH_DIR=<dir> puts it there.
set -euo pipefail

src="$(cd "$(dirname "$0")/.." && pwd)"
cmd=(npm test)
can_run_only=""
if [ "${1:-}" = "--can-run" ]; then
  can_run_only=1
elif [ "${1:-}" = "--" ]; then
  shift
  [ "$#" -gt 0 ] && cmd=("$@")
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "fresh-machine: needs root for unshare -m -n (try: sudo $0)" >&2
  exit 3
fi
for tool in unshare ip git mount; do
  command -v "$tool" >/dev/null || { echo "fresh-machine: $tool is not installed" >&2; exit 3; }
done
if ! unshare -m -n true 2>/dev/null; then
  echo "fresh-machine: this machine does not allow new mount/network namespaces" >&2
  exit 3
fi

[ -z "$can_run_only" ] || exit 0

work="${FRESH_DIR:-$(mktemp -d /tmp/hush-fresh-XXXXXX)}"
cleanup() { [ -n "${FRESH_KEEP:-}" ] || rm -rf "$work"; }
trap cleanup EXIT
commit="$(git -C "$src" rev-parse HEAD)"
if [ -n "$(git -C "$src" status --porcelain --untracked-files=no)" ]; then
  echo "fresh-machine: note: uncommitted changes in $src are not part of this run (it tests $commit)"
fi

start=$SECONDS
echo "== fresh clone of $commit into $work/hush"
git clone -q --no-checkout "$src" "$work/hush"
git -C "$work/hush" checkout -q --detach "$commit"

echo "== npm ci (with the network)"
(cd "$work/hush" && npm ci --no-audit --no-fund --loglevel=error)
echo "   npm ci took $((SECONDS - start)) s"

# What a machine with only Node would not have. Files are covered by /dev/null (not executable),
# folders by an empty tmpfs; both vanish with the namespace.
hide_dirs=(/usr/lib/postgresql /usr/share/postgresql-common /var/run/postgresql /run/postgresql /usr/lib/chromium /usr/lib/chromium-browser)
hide_cmds=(postgres initdb pg_ctl pg_ctlcluster psql pg_isready chromium chromium-browser google-chrome)

export FRESH_CLONE="$work/hush" FRESH_HIDE_DIRS="${hide_dirs[*]}" FRESH_HIDE_CMDS="${hide_cmds[*]}"
log="$work/npm-test.log"
status=0
echo "== ${cmd[*]} (no network, no machine PostgreSQL or Chromium)"
unshare --mount --net --propagation private -- bash -euo pipefail -c '
  ip link set lo up
  for dir in $FRESH_HIDE_DIRS; do
    [ -d "$dir" ] && mount -t tmpfs -o size=1m,mode=0755 hidden "$dir" && echo "   hidden $dir"
  done
  for name in $FRESH_HIDE_CMDS /usr/bin/chromium; do
    path="$(command -v "$name" 2>/dev/null || true)"
    [ -n "$path" ] || continue
    real="$(readlink -f "$path")"
    [ -f "$real" ] && mount --bind /dev/null "$real" && echo "   hidden $path"
  done
  # Prove the machine now looks fresh: no network, no server on the ports, no browser.
  cd "$FRESH_CLONE"
  node -e "
    const net = require(\"node:net\"), fs = require(\"node:fs\");
    const probe = (port) => new Promise((ok) => { const s = net.connect(port, \"127.0.0.1\"); s.on(\"connect\", () => { s.destroy(); ok(true); }); s.on(\"error\", () => ok(false)); });
    (async () => {
      for (const port of [5432, 3306, 6379]) if (await probe(port)) { console.error(\"fresh-machine: something answers on 127.0.0.1:\" + port); process.exit(1); }
      try { fs.accessSync(\"/usr/bin/chromium\", fs.constants.X_OK); console.error(\"fresh-machine: /usr/bin/chromium is still there\"); process.exit(1); } catch {}
    })();
  "
  registry="$(npm config get registry)"
  if node -e "fetch(process.argv[1], { signal: AbortSignal.timeout(5000) }).then(() => process.exit(0), () => process.exit(1))" "$registry"; then
    echo "fresh-machine: the registry is still reachable" >&2; exit 1
  fi
  echo "   checked: no network, nothing on 127.0.0.1:5432/3306/6379, no /usr/bin/chromium"
  exec "$@"
' fresh-machine "${cmd[@]}" 2>&1 | tee "$log" || status=$?

# The default run must have used the packaged binaries (otherwise it proved nothing).
# FRESH_EXPECT_NPM_BINARIES=1 asks the same of another command (.ci/run passes reporter options).
expect="${FRESH_EXPECT_NPM_BINARIES:-}"
[ "${cmd[*]}" = "npm test" ] && expect=1
if [ "$status" -eq 0 ] && [ -n "$expect" ]; then
  grep -q "PostgreSQL from npm" "$log" || { echo "fresh-machine: the run never started the PostgreSQL from npm" >&2; status=1; }
  grep -q "Chromium from npm" "$log" || { echo "fresh-machine: the run never used the Chromium from npm" >&2; status=1; }
fi
echo "== fresh-machine: exit $status after $((SECONDS - start)) s"
exit "$status"
