#!/usr/bin/env bash
# make demo: start the local emulator with the samples' seed, run samples/realignment.xlsx
# against it, print the summary and the results workbook, and stop the emulator whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
RATE=${DEMO_RATE:-10}
LOG=$(mktemp)
OUTPUT=$(mktemp)

# The emulator checks SigV4 against these demo credentials; nothing here can reach AWS.
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

"$BIN/bulk-assign" emulator --port 0 --seed samples/seed.json --write-rate "$RATE" \
    --latency-ms 40 --jitter-ms 20 >"$LOG" 2>&1 &
EMULATOR=$!
trap 'kill $EMULATOR 2>/dev/null || true; wait $EMULATOR 2>/dev/null || true; rm -f "$LOG" "$OUTPUT"' EXIT

for _ in $(seq 50); do
    URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$LOG" || true)
    [ -n "$URL" ] && break
    kill -0 $EMULATOR 2>/dev/null || { cat "$LOG"; echo "demo: the emulator did not start"; exit 1; }
    sleep 0.1
done
[ -n "$URL" ] || { cat "$LOG"; echo "demo: the emulator did not start"; exit 1; }

echo "Demo: a local Partner Central emulator at $URL (writes allowed at ${RATE}/s here;"
echo "      the real API allows 1/s per partner account, so a real run paces at 1/s)."
echo
set +e
"$BIN/bulk-assign" run samples/realignment.xlsx --catalog Sandbox --endpoint-url "$URL" \
    --max-tps "$RATE" --quiet | tee "$OUTPUT"
STATUS=${PIPESTATUS[0]}
set -e
FOLDER=$(sed -n 's/^Run folder: //p' "$OUTPUT" | tail -n 1)
echo
if [ -f "$FOLDER/results.xlsx" ]; then
    echo "Open in Excel: $FOLDER/results.xlsx"
    echo "  Results  every row, its status coloured"
    echo "  Failed   the rows to fix; runs again as it stands with --sheet Failed"
    echo "  Summary  the run's facts and counts, a chart of rows by status, the colour legend"
fi
echo "Exit code $STATUS: 1 is expected here, the sample has deliberate problems (see failed.csv)."
[ "$STATUS" -le 1 ] || exit "$STATUS"
