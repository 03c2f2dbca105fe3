#!/bin/sh
# Install what tests/engines/run.sh drives (Debian 12): the engines, the reference runtime
# and the image tools. Root; idempotent.
set -eu
export DEBIAN_FRONTEND=noninteractive
pkgs="podman conmon containerd runc umoci skopeo busybox-static bsdutils uidmap catatonit"
if ! apt-get install -y --no-install-recommends $pkgs; then
    apt-get update
    apt-get install -y --no-install-recommends $pkgs
fi
