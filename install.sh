#!/usr/bin/env bash
# Everything the package and its tests need on a fresh machine with Python 3.11:
# a virtual environment in .venv with latentmix and its test extras, and Debian's headless
# Chromium and ChromeDriver for the browser tests (installed with apt-get when this runs as
# root or with sudo; otherwise the command to run is printed and the browser tests will say so).
set -euo pipefail
cd "$(dirname "$0")"

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    packages="chromium chromium-driver"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq $packages >/dev/null
    elif command -v sudo >/dev/null && command -v apt-get >/dev/null && sudo -n true 2>/dev/null; then
        sudo apt-get update -qq
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null
    else
        echo "install.sh: the browser tests need Chromium and ChromeDriver; install them with" >&2
        echo "    apt-get install $packages   (as root)" >&2
    fi
fi
echo "installed: $(.venv/bin/latentmix --version)"
