#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests when it is missing (needs root or sudo).
set -u
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
as_root=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then as_root="sudo"; else
    echo "chromium is missing and this user cannot install it: the browser tests will be skipped (apt-get install chromium)" >&2
    exit 0
  fi
fi
echo "installing chromium for the browser tests..." >&2
$as_root apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq chromium >/dev/null \
  || echo "could not install chromium: the browser tests will be skipped (CI fails them)" >&2
