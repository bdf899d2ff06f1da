#!/usr/bin/env bash
# Put our replacements of Debezium's classes (cdc/local/java: README "Debezium restarting inside a
# transaction" and "Kafka Connect at rest") inside the Debezium jars that hold the classes they replace.
# docker/connect/Dockerfile runs it to build compose's Kafka Connect image.
#
#   patch-debezium.sh SOURCES PLUGIN OUT [LIBS...]
#
# SOURCES  the root of our .java files
# PLUGIN   Debezium's PostgreSQL connector plugin folder (its jars are compiled against and patched)
# OUT      where each changed jar is written, under its own name (the others are not copied)
# LIBS     more folders of jars to compile against (Kafka Connect's own)
#
# The local stack compiles the same sources the same way (cdc/local/debezium_patch.py) but puts them first on
# Connect's classpath instead; tests/integration/cdc/test_debezium_patch.py checks both give the same classes.
# A class goes into the jar that holds its top-level class; a class none of the jars holds is an error, as it
# would replace nothing. `jar uf` adds and replaces entries, never removes one: a nested class of Debezium's
# that our source no longer has would stay in the jar, unused.
set -euo pipefail

if [[ $# -lt 3 ]]; then
    echo "usage: $0 SOURCES PLUGIN OUT [LIBS...]" >&2
    exit 2
fi
sources=$(realpath "$1")
plugin=$(realpath "$2")
mkdir -p "$3"
out=$(realpath "$3")
shift 3

classpath="$plugin/*"
for libs in "$@"; do
    classpath+=":$(realpath "$libs")/*"
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/classes" "$work/listings"

mapfile -d '' java_files < <(find "$sources" -name '*.java' -print0 | sort -z)
if [[ ${#java_files[@]} -eq 0 ]]; then
    echo "$0: no .java files under $sources" >&2
    exit 1
fi
javac -nowarn --release 17 -d "$work/classes" -cp "$classpath" "${java_files[@]}"

# Each jar's entries, listed once (a listing piped straight into grep -q would fail under pipefail).
for jar in "$plugin"/*.jar; do
    jar tf "$jar" > "$work/listings/$(basename "$jar").txt"
done

holder_of() {  # the plugin jar holding the top-level class of class file $1, or nothing
    local top=${1%%\$*} listing
    top=${top%.class}.class
    for listing in "$work"/listings/*.txt; do
        if grep -qxF "$top" "$listing"; then
            basename "$listing" .txt
            return
        fi
    done
}

cd "$work/classes"
mapfile -t classes < <(find . -name '*.class' | sed 's|^\./||' | sort)
declare -A by_jar=()
for class in "${classes[@]}"; do
    holder=$(holder_of "$class")
    if [[ -z $holder ]]; then
        echo "$0: no jar in $plugin holds the class $class replaces" >&2
        exit 1
    fi
    by_jar[$holder]+="$class "
done

for name in "${!by_jar[@]}"; do
    cp "$plugin/$name" "$out/$name"
    read -r -a entries <<< "${by_jar[$name]}"
    jar uf "$out/$name" "${entries[@]}"
    echo "patched $name: ${entries[*]}"
done
