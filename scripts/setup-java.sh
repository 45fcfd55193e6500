#!/usr/bin/env bash
# The local broker needs Java 17+ and Maven (to fetch Apache Pulsar from Maven Central).
# Install them with the system's apt only where missing; print one line and fail otherwise.
set -euo pipefail

need=()
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "pulsarload setup: missing ${need[*]}; install Java 17+ and Maven, then rerun make setup" >&2
  exit 1
fi
echo "pulsarload setup: installing ${need[*]} with apt-get"
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; } >/tmp/pulsarload-apt-java.log 2>&1; then
  echo "pulsarload setup: apt-get could not install ${need[*]}; see /tmp/pulsarload-apt-java.log" >&2
  exit 1
fi
