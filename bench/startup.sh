#!/usr/bin/env bash
# Fresh clone → `make run` answering /healthz 200, in seconds.
#   bash bench/startup.sh          # with this machine's package caches (warm)
#   bash bench/startup.sh --cold   # with empty pip, uv and npm caches (everything downloaded)
set -u
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ "${1:-}" = "--cold" ]; then
  export PIP_CACHE_DIR="$work/pip-cache" UV_CACHE_DIR="$work/uv-cache" npm_config_cache="$work/npm-cache"
fi
git clone -q "$repo" "$work/clone"
cd "$work/clone" || exit 1
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start=$(date +%s.%N)
setsid make run PORT="$port" >"$work/run.log" 2>&1 &
pid=$!
healthy=""
for _ in $(seq 1200); do
  if curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null; then healthy=1; break; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.25
done
end=$(date +%s.%N)
kill -INT -- "-$pid" 2>/dev/null; sleep 3; kill -KILL -- "-$pid" 2>/dev/null; wait "$pid" 2>/dev/null
if [ -z "$healthy" ]; then echo "make run never became healthy:"; tail -30 "$work/run.log"; exit 1; fi
mode=${1:---warm}
python3 -c "print('fresh clone to healthy make run (${mode#--} caches): %.1f s' % ($end - $start))"
