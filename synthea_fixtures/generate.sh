#!/usr/bin/env bash
# Regenerate synthea_fixtures/fhir/ : real Synthea FHIR R4 output for a small
# set of living adults with chronic conditions.
#
# Synthea is obtained from Maven Central (org.mitre.synthea:synthea, pinned in
# pom.xml) through Maven's own cache (~/.m2); no jar enters the repo. Every
# option that shapes the output is on the command line below and recorded in
# README.md. Working files go to synthea_fixtures/work/ (gitignored).
#
# Needs: Java 17+, Maven 3.8+, network access to Maven Central on first run.
# Usage:  synthea_fixtures/generate.sh        (about 1.5 minutes, one core)
#
# SEED, CLINICIAN_SEED, POPULATION, YEARS_OF_HISTORY, WORK_DIR and DEST_DIR
# can be overridden from the environment for experiments (seed search). The
# committed fixtures use the defaults below; do not override them to refresh fhir/.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"

SYNTHEA_VERSION="3.3.0"   # must match pom.xml
SEED="${SEED:-20250101}"              # -s  population seed (patients)
CLINICIAN_SEED="${CLINICIAN_SEED:-20250101}"  # -cs clinician/provider seed
REFERENCE_DATE="20250101"             # -r  ages are computed at this date
END_DATE="20250101"                   # -e  simulation stops here (default would be "now")
POPULATION="${POPULATION:-30}"        # -p  living patients Synthea generates (the pool)
SELECT="12"                           # patient bundles committed from the pool
MAX_BUNDLE_BYTES="4000000"            # only bundles under this size are committed
AGE_RANGE="35-80"                     # -a  adults only
STATE="Massachusetts"
CITY="Worcester"
YEARS_OF_HISTORY="${YEARS_OF_HISTORY:-5}"

WORK="${WORK_DIR:-$HERE/work}"      # overridable for experiments only
OUT="$WORK/output"
DEST="${DEST_DIR:-$HERE/fhir}"
mkdir -p "$WORK"

echo "== resolving Synthea $SYNTHEA_VERSION and its runtime classpath from Maven Central"
# -C: fail on checksum mismatch. The classpath points into ~/.m2.
mvn -B -q -C -f "$HERE/pom.xml" \
    -Dsynthea.version="$SYNTHEA_VERSION" \
    dependency:build-classpath \
    -Dmdep.includeScope=runtime \
    -Dmdep.outputFile="$WORK/classpath.txt"
CLASSPATH_FILE="$WORK/classpath.txt"
SYNTHEA_JAR="$(tr ':' '\n' < "$CLASSPATH_FILE" | grep "/org/mitre/synthea/synthea/$SYNTHEA_VERSION/synthea-$SYNTHEA_VERSION.jar$")"
test -f "$SYNTHEA_JAR"
echo "   $SYNTHEA_JAR"
echo "   build: $(unzip -p "$SYNTHEA_JAR" version.txt 2>/dev/null || echo unknown)"

echo "== running Synthea (seed $SEED, clinician seed $CLINICIAN_SEED, reference date $REFERENCE_DATE)"
rm -rf "$OUT"
# Options (why each one is here is in README.md):
java -Xmx3g -cp "$(cat "$CLASSPATH_FILE")" App \
    -s "$SEED" \
    -cs "$CLINICIAN_SEED" \
    -r "$REFERENCE_DATE" \
    -e "$END_DATE" \
    -p "$POPULATION" \
    -a "$AGE_RANGE" \
    -k "$HERE/keep_chronic.json" \
    --exporter.baseDirectory="$OUT/" \
    --exporter.fhir.export=true \
    --exporter.fhir.transaction_bundle=true \
    --exporter.fhir.bulk_data=false \
    --exporter.fhir.use_us_core_ig=true \
    --exporter.hospital.fhir.export=true \
    --exporter.practitioner.fhir.export=true \
    --exporter.fhir_stu3.export=false \
    --exporter.fhir_dstu2.export=false \
    --exporter.ccda.export=false \
    --exporter.csv.export=false \
    --exporter.cpcds.export=false \
    --exporter.bfd.export=false \
    --exporter.text.export=false \
    --exporter.json.export=false \
    --exporter.clinical_note.export=false \
    --exporter.metadata.export=false \
    --exporter.years_of_history="$YEARS_OF_HISTORY" \
    --exporter.pretty_print=true \
    --generate.only_alive_patients=true \
    --generate.thread_pool_size=1 \
    "$STATE" "$CITY" \
    > "$WORK/synthea.log" 2>&1 || { tail -40 "$WORK/synthea.log"; exit 1; }
sed -n '/^Running with options/,$p' "$WORK/synthea.log"

echo "== installing output into $DEST"
# Selection rule (deterministic): patient bundles in file-name order, skipping
# any over MAX_BUNDLE_BYTES, until SELECT are taken. Files are copied
# byte-for-byte; nothing inside them is changed. The hospital and practitioner
# bundles of the run are copied as they are (they also list organisations and
# clinicians that only skipped patients saw).
rm -rf "$DEST"
mkdir -p "$DEST"
taken=0
: > "$WORK/selection.txt"
while IFS= read -r f; do
    size=$(stat -c %s "$f")
    if [ "$taken" -lt "$SELECT" ] && [ "$size" -lt "$MAX_BUNDLE_BYTES" ]; then
        cp "$f" "$DEST"/
        taken=$((taken + 1))
        echo "take $size $(basename "$f")" >> "$WORK/selection.txt"
    else
        echo "skip $size $(basename "$f")" >> "$WORK/selection.txt"
    fi
done < <(find "$OUT/fhir" -maxdepth 1 -name '*.json' ! -name 'hospitalInformation*' ! -name 'practitionerInformation*' | LC_ALL=C sort)
cp "$OUT"/fhir/hospitalInformation*.json "$OUT"/fhir/practitionerInformation*.json "$DEST"/
cat "$WORK/selection.txt"
if [ "$taken" -lt "$SELECT" ]; then
    echo "only $taken patient bundles under $MAX_BUNDLE_BYTES bytes; wanted $SELECT" >&2
    exit 1
fi
( cd "$DEST" && sha256sum -- *.json ) > "$WORK/sha256sums.txt"
du -sh "$DEST"

if command -v python3 >/dev/null 2>&1; then
    echo "== checking fixtures"
    python3 "$HERE/check_fixtures.py" "$DEST"
fi
