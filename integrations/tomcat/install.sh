#!/bin/sh
# Installs Handover's session reporting into a Tomcat 10+ base (CATALINA_BASE):
#   - build/handover-tomcat.jar (built first when missing or older than src/) into <base>/lib/
#   - one line in <base>/conf/server.xml, just before </Engine>:
#       <Valve className="org.handover.tomcat.HandoverValve" />
# Running it again updates the jar and leaves the line alone. Restart Tomcat afterwards.
#
# usage: integrations/tomcat/install.sh <CATALINA_BASE>
set -eu
here=$(cd "$(dirname "$0")" && pwd)
valve='<Valve className="org.handover.tomcat.HandoverValve" />'

fail() {
  echo "handover-tomcat: $*" >&2
  exit 1
}

[ $# -eq 1 ] && [ -n "$1" ] || fail "usage: $0 <CATALINA_BASE> (the directory holding conf/server.xml, e.g. /var/lib/tomcat10)"
base=$1
[ -d "$base" ] || fail "$base: no such directory (expected a Tomcat base: the directory holding conf/server.xml)"
server="$base/conf/server.xml"
[ -f "$server" ] || fail "$server not found: $base is not a Tomcat base"
[ -w "$server" ] || fail "$server is not writable (run as its owner, or with sudo)"

jar="$here/build/handover-tomcat.jar"
if ! [ -f "$jar" ] || [ -n "$(find "$here/src" -name '*.java' -newer "$jar" | head -n 1)" ]; then
  if ! command -v javac >/dev/null 2>&1; then
    fail "javac not found, and the integration is not built yet: install a JDK (Debian: apt-get install default-jdk-headless) and run this again"
  fi
  "$here/build.sh" >/dev/null
fi

mkdir -p "$base/lib"
cp "$jar" "$base/lib/.handover-tomcat.jar.tmp"
mv "$base/lib/.handover-tomcat.jar.tmp" "$base/lib/handover-tomcat.jar"

# The XML outside <!-- comments -->, as awk sees it: "uncommented" prints each line with its
# commented parts blanked out.
uncommented() {
  awk '
    {
      line = $0; out = ""; n = length(line)
      for (i = 1; i <= n; i++) {
        if (in_comment) {
          if (substr(line, i, 3) == "-->") { in_comment = 0; i += 2 }
          out = out " "
          continue
        }
        if (substr(line, i, 4) == "<!--") { in_comment = 1; i += 3; out = out " "; continue }
        out = out substr(line, i, 1)
      }
      print out
    }
  ' "$1"
}

if uncommented "$server" | grep -q 'org\.handover\.tomcat\.HandoverValve'; then
  echo "handover-tomcat: $server already has the valve; jar updated in $base/lib"
  exit 0
fi
# The line number of the first </Engine> outside comments.
at=$(uncommented "$server" | grep -n '</Engine>' | head -n 1 | cut -d: -f1)
[ -n "$at" ] || fail "$server has no </Engine>: add this line inside your <Engine> by hand: $valve"
edited=$(mktemp)
trap 'rm -f "$edited"' EXIT
uncommented "$server" | awk -v at="$at" 'NR == at { print index($0, "</Engine>") }' >"$edited"
column=$(cat "$edited")
awk -v at="$at" -v column="$column" -v valve="$valve" '
  NR == at {
    before = substr($0, 1, column - 1)
    if (before ~ /^[ \t]*$/) {
      print before "  " valve
      print $0
    } else {
      print before valve
      print substr($0, column)
    }
    next
  }
  { print }
' "$server" >"$edited"
cat "$edited" >"$server" # in place: keeps the file's owner and mode
echo "handover-tomcat: installed into $base (lib/handover-tomcat.jar, and the valve in conf/server.xml); restart Tomcat"
