#!/bin/sh
# Install Debian's chromium for the dashboard's browser tests (tests/e2e/test_dashboard*.py).
# Idempotent: does nothing when a chromium is already on PATH. Needs root (or sudo) for apt-get.
# The tests drive it with playwright's Python package and executable_path=/usr/bin/chromium;
# `playwright install` (which downloads its own browser builds) is never used.
set -eu

if command -v chromium >/dev/null 2>&1; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "install-browser: chromium is missing and this user cannot run apt-get" >&2
    echo "  install it with: apt-get install -y chromium" >&2
    exit 1
fi

$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium
command -v chromium >/dev/null 2>&1
