#!/usr/bin/env bash
# Debian packages the tests need: chromium + chromium-driver (browser tests, never downloaded
# by a test tool), cron (the crontab tests) and wrk (the ping benchmark's smoke test). Installed
# only when missing.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v crontab >/dev/null 2>&1 || missing+=(cron)
command -v pg_isready >/dev/null 2>&1 || missing+=(postgresql-client)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing ${missing[*]} (Debian packages)..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "Missing Debian packages: ${missing[*]}. Install them: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
