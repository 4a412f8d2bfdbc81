# What the tests need from Debian, and how to get it. Sourced by bin/run-tests and .ci/run.

# command -> Debian package
TEST_TOOLS=(
  "iscsi-ls libiscsi-bin"
  "iscsi-test-cu libiscsi-bin"
  "qemu-io qemu-utils"
  "qemu-system-x86_64 qemu-system-x86"
  "bindfs bindfs"
  "fusermount3 fuse3"
  "sg_inq sg3-utils"
  "socat socat"
  "cpio cpio"
  "openssl openssl"
  "promtool prometheus"
  "systemd-analyze systemd"
)
# Packages that provide no command of their own but are needed all the same.
TEST_PACKAGES=(qemu-block-extra kmod e2fsprogs python3-fusepy)

missing_test_packages() {
  local entry tool pkg missing=()
  for entry in "${TEST_TOOLS[@]}"; do
    tool=${entry%% *}; pkg=${entry#* }
    command -v "$tool" >/dev/null 2>&1 || missing+=("$pkg")
  done
  for pkg in "${TEST_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$pkg")
  done
  printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' '
}

ensure_test_deps() {
  local missing
  missing=$(missing_test_packages)
  [ -z "${missing// /}" ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "run-tests: installing $missing" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >&2 || {
      apt-get update -q >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >&2
    }
  else
    echo "run-tests: the tests need these Debian packages: $missing" >&2
    echo "install them with: sudo apt-get install $missing" >&2
    exit 1
  fi
}

# Docker, for DockerImageIT (the project's image with real initiators on the host). Not a test
# dependency of bin/run-tests, which reports those tests as skipped where no engine runs; .ci/run
# installs and starts it. Command -> Debian package.
DOCKER_TOOLS=(
  "dockerd docker.io"
  "debootstrap debootstrap"
)

missing_docker_packages() {
  local entry missing=()
  for entry in "${DOCKER_TOOLS[@]}"; do
    command -v "${entry%% *}" >/dev/null 2>&1 || missing+=("${entry#* }")
  done
  printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' '
}

# start_docker_engine: starts dockerd in the background unless an engine answers already; waits
# until `docker info` answers. Sets DOCKERD_PID when it started one. Log: /var/log/rtarget-dockerd.log.
start_docker_engine() {
  local log=/var/log/rtarget-dockerd.log i
  DOCKERD_PID=
  docker info >/dev/null 2>&1 && return 0
  echo "starting dockerd (log: $log)" >&2
  setsid dockerd >"$log" 2>&1 </dev/null &
  DOCKERD_PID=$!
  for i in $(seq 1 120); do
    docker info >/dev/null 2>&1 && return 0
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 0.5
  done
  echo "dockerd did not come up; the end of its log:" >&2
  tail -20 "$log" >&2
  return 1
}
