#!/usr/bin/env bash
# A local base image for hosts that reach no registry: Debian bookworm from debootstrap with its
# Python 3.11 and venv, imported under a name of its own (never an official image's tag).
# Usage: image/base-image.sh [NAME]; does nothing when NAME already exists (FORCE=1 rebuilds).
set -euo pipefail
name="${1:-archbench/bookworm-python:3.11}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
if [[ -z "${FORCE:-}" ]] && docker image inspect "$name" >/dev/null 2>&1; then
    echo "base image $name exists (FORCE=1 rebuilds it)"
    exit 0
fi
command -v debootstrap >/dev/null || { apt-get update -q && apt-get install -y -q debootstrap; }
rootfs="$(mktemp -d)"
trap 'rm -rf "$rootfs"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$rootfs" "$mirror"
# Nothing the image needs at run time: the package lists and caches, the docs.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
tar --numeric-owner -C "$rootfs" -c . | docker import \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' \
    --message "debootstrap bookworm with python3 and python3-venv" - "$name"
echo "built base image $name"
