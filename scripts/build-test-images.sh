#!/usr/bin/env bash
# Build the two local Docker images the test suite uses, without any registry:
#
#   $PROJ_TEST_DOCKER_IMAGE  (default proj-test-python:3.11)
#       Debian bookworm's python3.11 with its full stdlib, venv/ensurepip, `python` -> python3,
#       Debian's bash, and a static busybox for sh/ls/cat/env/... (no apt, dpkg or perl inside).
#   $PROJ_TEST_BUSYBOX_IMAGE (default proj-test-busybox:latest)
#       just a static busybox: /bin/sh (ash) and the usual applets. No bash, no python.
#
# Docker Hub is unreachable here, so the root filesystems are assembled from Debian .deb files
# (`apt-get download` + `dpkg-deb -x`, no maintainer scripts run) and turned into images with
# `docker import`. An image that already exists is kept; FORCE=1 rebuilds both.
# Needs a running daemon (scripts/docker-up.sh).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PY_TAG=${PROJ_TEST_DOCKER_IMAGE:-proj-test-python:3.11}
BB_TAG=${PROJ_TEST_BUSYBOX_IMAGE:-proj-test-busybox:latest}
LOG=${BUILD_IMAGES_LOG:-/var/log/proj-build-images.log}
FORCE=${FORCE:-0}

# Runtime closure of python3.11 (+ stdlib extension modules' libraries), checked by hand against
# `apt-cache depends`; bash needs only libc6 + libtinfo6, both already here.
PY_PKGS=(
    libc6 gcc-12-base libgcc-s1 libexpat1 zlib1g libssl3 libbz2-1.0 liblzma5 libzstd1 libffi8
    libsqlite3-0 libuuid1 libncursesw6 libtinfo6 libreadline8 readline-common libcrypt1 libnsl2
    libtirpc3 libtirpc-common libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0
    libcom-err2 libkeyutils1 libdb5.3 libgdbm6 libgdbm-compat4 media-types
    libpython3.11-minimal python3.11-minimal python3-minimal libpython3.11-stdlib
    libpython3-stdlib python3.11 python3 python-is-python3
    python3.11-venv python3-pip-whl python3-setuptools-whl
    bash busybox-static
)
BB_PKGS=(busybox-static)

docker version --format '{{.Server.Version}}' >/dev/null 2>&1 \
    || proj_fail "docker daemon not answering: run scripts/docker-up.sh first"
mkdir -p "$(dirname "$LOG")"
: >"$LOG"                                  # one run per log: its tail is this run's failure

WORK=
cleanup() { [ -n "$WORK" ] && rm -rf "$WORK"; return 0; }
trap cleanup EXIT

# Download the given packages into $WORK/debs and unpack them into $WORK/root.
make_rootfs() {
    WORK=$(mktemp -d /tmp/proj-img.XXXXXX)
    chmod 755 "$WORK"
    mkdir -p "$WORK/debs" "$WORK/root"/{tmp,etc,root,bin,sbin,usr/bin,usr/sbin}
    chmod 777 "$WORK/debs"               # apt's _apt download user must be able to write here
    chmod 1777 "$WORK/root/tmp"
    ( cd "$WORK/debs" && apt-get download "$@" ) >>"$LOG" 2>&1 || {
        # a stale package list names versions the mirror no longer has: refresh once and retry
        apt-get update >>"$LOG" 2>&1
        ( cd "$WORK/debs" && apt-get download "$@" ) >>"$LOG" 2>&1
    } || proj_fail "apt-get download $*" "$LOG"
    local deb
    for deb in "$WORK"/debs/*.deb; do
        dpkg-deb -x "$deb" "$WORK/root" >>"$LOG" 2>&1 || proj_fail "dpkg-deb -x $deb" "$LOG"
    done
    local R=$WORK/root
    # Busybox applet links in their usual places (/bin/sh, /usr/bin/env, ...); existing files
    # (bash, python) are left alone.
    chroot "$R" /bin/busybox --install -s >>"$LOG" 2>&1 || proj_fail "busybox --install" "$LOG"
    [ -L "$R/bin/sh" ] || [ -e "$R/bin/sh" ] || ln -s busybox "$R/bin/sh"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
        >"$R/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$R/etc/group"
    # Documentation and translations are dead weight in a test image.
    rm -rf "$R"/usr/share/{doc,man,info,lintian,locale}
}

# `docker import` the rootfs as $1, with image config changes given as further arguments.
import_rootfs() {
    local tag=$1; shift
    local changes=() c
    for c in "$@"; do changes+=(--change "$c"); done
    tar -C "$WORK/root" -c . | docker import "${changes[@]}" - "$tag" >>"$LOG" 2>&1 \
        || proj_fail "docker import $tag" "$LOG"
    rm -rf "$WORK"; WORK=
}

run_in() {  # run a command in a throw-away container: no pull, no network
    docker run --rm --pull never --network none "$@"
}

image_size() { docker image inspect --format '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1/1e6}'; }

# Each image carries a label with a hash of what it was built from, so editing a package list
# above rebuilds it on the next run; FORCE=1 rebuilds regardless.
recipe_id() { printf '%s\n' "$@" | sha256sum | cut -c1-16; }
PY_RECIPE=$(recipe_id python-v1 "${PY_PKGS[@]}")
BB_RECIPE=$(recipe_id busybox-v1 "${BB_PKGS[@]}")
need_build() {  # need_build TAG RECIPE
    [ "$FORCE" = 1 ] && return 0
    local have
    have=$(docker image inspect --format '{{index .Config.Labels "proj.test-image.recipe"}}' "$1" 2>/dev/null) \
        || return 0
    [ "$have" != "$2" ]
}

# Remove the image a rebuild replaced, if nothing else uses it (ignore failures).
drop_old() { [ -n "$1" ] && [ "$1" != "$(docker image inspect --format '{{.Id}}' "$2")" ] \
    && docker rmi "$1" >/dev/null 2>&1; return 0; }

summary=()

# ---- python image
if need_build "$PY_TAG" "$PY_RECIPE"; then
    t=${EPOCHREALTIME}
    old_id=$(docker image inspect --format '{{.Id}}' "$PY_TAG" 2>/dev/null || true)
    make_rootfs "${PY_PKGS[@]}"
    import_rootfs "$PY_TAG" \
        'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        'ENV LANG=C.UTF-8' 'WORKDIR /' 'CMD ["python3"]' "LABEL proj.test-image.recipe=$PY_RECIPE"
    drop_old "$old_id" "$PY_TAG"
    summary+=("built ${PY_TAG} ($(image_size "$PY_TAG"), $(proj_since "$t") s)")
else
    summary+=("${PY_TAG} present")
fi
out=$(run_in "$PY_TAG" bash -c \
    'python -c "import sys, json, sqlite3, ssl, ctypes, lzma, bz2, zlib, uuid, venv; print(sys.version.split()[0])" && sh -c "echo sh-ok"' \
    2>&1) || { echo "$out" >>"$LOG"; proj_fail "$PY_TAG does not run python/bash/sh" "$LOG"; }
case $out in 3.11.*sh-ok) ;; *) echo "$out" >>"$LOG"; proj_fail "$PY_TAG: unexpected output" "$LOG";; esac

# ---- busybox image
if need_build "$BB_TAG" "$BB_RECIPE"; then
    t=${EPOCHREALTIME}
    old_id=$(docker image inspect --format '{{.Id}}' "$BB_TAG" 2>/dev/null || true)
    make_rootfs "${BB_PKGS[@]}"
    import_rootfs "$BB_TAG" 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' 'WORKDIR /' 'CMD ["sh"]' \
        "LABEL proj.test-image.recipe=$BB_RECIPE"
    drop_old "$old_id" "$BB_TAG"
    summary+=("built ${BB_TAG} ($(image_size "$BB_TAG"), $(proj_since "$t") s)")
else
    summary+=("${BB_TAG} present")
fi
out=$(run_in "$BB_TAG" sh -c 'echo sh-ok' 2>&1) \
    || { echo "$out" >>"$LOG"; proj_fail "$BB_TAG does not run sh" "$LOG"; }
[ "$out" = sh-ok ] || { echo "$out" >>"$LOG"; proj_fail "$BB_TAG: unexpected output" "$LOG"; }

joined=$(printf '%s; ' "${summary[@]}")
proj_ok "test images: ${joined%; }"
