#!/usr/bin/env bash
# The browser dashboard's tests drive Debian's Chromium through chromedriver (Selenium).
# Install both with the system's apt only where missing; print one line and fail otherwise.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "pulsarload setup: missing ${need[*]}; install them (apt-get install ${need[*]}), then rerun make setup" >&2
  exit 1
fi
echo "pulsarload setup: installing ${need[*]} with apt-get"
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; } >/tmp/pulsarload-apt-browser.log 2>&1; then
  echo "pulsarload setup: apt-get could not install ${need[*]}; see /tmp/pulsarload-apt-browser.log" >&2
  exit 1
fi
