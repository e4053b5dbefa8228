#!/usr/bin/env bash
# Installs the Debian 12 packages depositbot builds and tests with, only when
# something is missing (so a warm machine does not touch the network).
set -euo pipefail
packages=(
  build-essential cmake pkgconf ccache
  libcpp-httplib-dev nlohmann-json3-dev libsqlite3-dev libpq-dev postgresql libssl-dev
  libcurl4-openssl-dev
  libpugixml-dev libcli11-dev doctest-dev librapidcheck-dev
  libpsl-dev libidn2-dev publicsuffix
  clang clang-format libclang-rt-14-dev llvm
  systemd
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
