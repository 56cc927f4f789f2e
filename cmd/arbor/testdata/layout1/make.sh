#!/usr/bin/env bash
# How data.tar.gz and expected.json were made: arbor built from the release
# that wrote events on the first subject layout
# (arbor.<hierarchy>.<boundary>.<artifact>.<label>.<kind>), serving a fresh
# data directory. expected.json is what that release answered afterwards.
# Kept for the record; the test reads only the two files.
set -euo pipefail
ARBOR=${ARBOR:-arbor}
$ARBOR serve --data-dir ./data --addr 127.0.0.1:18765 --nats-listen "" \
  --hierarchy ml_pipeline=experiment,model,predictions --hierarchy documents=project,document,version &
PID=$!
for i in $(seq 50); do curl -sf http://127.0.0.1:18765/health >/dev/null && break; sleep 0.2; done
A=http://127.0.0.1:18765/api/v1/artifacts
post() { curl -sf -X POST $A -H 'Content-Type: application/json' -d "$1" >/dev/null; }
post '{"id":"01KB0000000000000000000001","data":{"experiment_name":"weather"},"tags":["exp-1"]}'
post '{"id":"01KB0000000000000000000002","data":{"experiment_name":"gone"}}'
post '{"id":"01KB0000000000000000000003","parent_id":"01KB0000000000000000000001","data":{"model_type":"LinearRegression","metrics":{"rmse":0.25}}}'
post '{"id":"01KB0000000000000000000004","parent_id":"01KB0000000000000000000001","data":{"model_type":"deleted"}}'
post '{"id":"01KB0000000000000000000005","parent_id":"01KB0000000000000000000003","data":{"prediction_date":"2026-11-27"}}'
post '{"id":"01KB0000000000000000000006","parent_id":"01KB0000000000000000000003","data":{"prediction_date":"2026-11-28"}}'
post '{"id":"01KB0000000000000000000007","parent_id":"01KB0000000000000000000003","data":{"content_type":"application/vnd.chapkit.dataframe+json","content":{"columns":["a","b"],"data":[[1,2],[3,4]]}}}'
post '{"id":"01KB0000000000000000000008","hierarchy":"documents","data":{"title":"handbook"}}'
curl -sf -X PUT "$A/01KB0000000000000000000003" -H 'Content-Type: application/json' -H 'If-Match: "1"' \
  -d '{"data":{"model_type":"LinearRegression","metrics":{"rmse":0.21}},"tags":["best"]}' >/dev/null
curl -sf -X DELETE "$A/01KB0000000000000000000006" >/dev/null
curl -sf -X DELETE "$A/01KB0000000000000000000004" >/dev/null
curl -sf -X DELETE "$A/01KB0000000000000000000002" >/dev/null
printf 'model weights' | curl -sf -X PUT "$A/01KB0000000000000000000003/\$content" -H 'Content-Type: application/zip' --data-binary @- >/dev/null
kill -INT $PID; wait $PID || true
# expected.json maps each path below /api/v1/artifacts to what the same
# release answered for it, served again from ./data afterwards.
