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
)
# Packages that provide no command of their own but are needed all the same.
TEST_PACKAGES=(qemu-block-extra kmod e2fsprogs)

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
