#!/bin/sh
# Builds build/handover-tomcat.jar from src/ with javac, against Tomcat's own jars
# ($CATALINA_HOME/lib, default /usr/share/tomcat10/lib: Debian's tomcat10-common). Java 11 bytecode,
# as Tomcat 10.1 itself requires.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
home="${CATALINA_HOME:-/usr/share/tomcat10}"

if ! command -v javac >/dev/null 2>&1 || ! command -v jar >/dev/null 2>&1; then
  echo "handover-tomcat: javac and jar are needed to build the integration; install a JDK (Debian: apt-get install default-jdk-headless)" >&2
  exit 1
fi
for jar in catalina.jar servlet-api.jar tomcat-api.jar tomcat-util.jar tomcat-coyote.jar; do
  if ! [ -f "$home/lib/$jar" ]; then
    echo "handover-tomcat: $home/lib/$jar not found; set CATALINA_HOME to your Tomcat 10+ (Debian: apt-get install tomcat10-common)" >&2
    exit 1
  fi
done
juli="$home/bin/tomcat-juli.jar"
[ -f "$juli" ] || juli="$home/lib/tomcat-juli.jar"

out="$here/build"
mkdir -p "$out"
classes=$(mktemp -d "$out/classes.XXXXXX")
trap 'rm -rf "$classes" "$classes.jar"' EXIT
javac -nowarn --release 11 -encoding UTF-8 -d "$classes" \
  -cp "$home/lib/*:$juli" \
  $(find "$here/src" -name '*.java')
jar --create --file "$classes.jar" -C "$classes" .
mv "$classes.jar" "$out/handover-tomcat.jar" # whole or not at all, even with two builds at once
echo "$out/handover-tomcat.jar"
