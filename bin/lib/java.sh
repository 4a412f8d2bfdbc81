# Shared by the bin/ scripts: find a JDK 25 (or newer) and build the project when needed.
# Sourcing this sets RT_ROOT, JAVA_HOME and JAVA.

RT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# java_major BIN -> prints the feature version of a java binary, or nothing
java_major() {
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p' | head -1
}

find_jdk() {
  local candidate major
  for candidate in ${JAVA_HOME:+"$JAVA_HOME"} \
      $(command -v javac >/dev/null 2>&1 && dirname "$(dirname "$(readlink -f "$(command -v javac)")")") \
      /usr/lib/jvm/temurin-25* /usr/lib/jvm/*25* /usr/lib/jvm/* /opt/java/openjdk /opt/jdk*; do
    [ -x "$candidate/bin/java" ] || continue
    major=$(java_major "$candidate/bin/java")
    if [ -n "$major" ] && [ "$major" -ge 25 ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

if ! JAVA_HOME=$(find_jdk); then
  echo "iscsi-target: no JDK 25 found (looked at \$JAVA_HOME, the javac on PATH and /usr/lib/jvm)." >&2
  echo "Install one (e.g. Temurin 25) or point JAVA_HOME at it." >&2
  exit 1
fi
export JAVA_HOME
JAVA="$JAVA_HOME/bin/java"

RT_JAR="$RT_ROOT/target-server/target/iscsi-target.jar"

# build_if_needed: package the server jar if it is missing or older than any source file.
build_if_needed() {
  if [ -f "$RT_JAR" ] && [ -z "$(find "$RT_ROOT" -path "$RT_ROOT/integration-tests" -prune -o \
        \( -path '*/src/main/*' -o -name pom.xml \) -newer "$RT_JAR" -print -quit)" ]; then
    return 0
  fi
  echo "iscsi-target: building (first run or sources changed)..." >&2
  (cd "$RT_ROOT" && MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" ./mvnw -q -B -DskipTests -pl target-server -am package) >&2 || {
    echo "iscsi-target: build failed" >&2
    exit 1
  }
}
