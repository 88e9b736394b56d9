#!/usr/bin/env bash
# Starts, on 127.0.0.1, the servers the connector examples (README: "Connectors: Kafka,
# Kinesis, S3") run against, prints their endpoints and the environment to use, and stops
# them on Ctrl-C:
#
#   Kafka    kfake (franz-go's in-memory Kafka)  127.0.0.1:9092   topics logs, logs-enriched,
#                                                                  logs-dead-letter
#   Kinesis  kinesalite 3.3.3                   http://127.0.0.1:4567 (it binds every interface:
#                                               it has no option to bind one)
#   S3       versitygw (posix backend)          http://127.0.0.1:7070  bucket "runnel"
#
# Kafka and Kinesis keep their data in memory; S3's lives in .cache/dev-s3 (delete it to start
# afresh). kinesalite is installed with npm into .cache/kinesalite, where the Kinesis tests
# (internal/testing/kinesistest) look for it; versitygw is built into .cache/bin by
# scripts/versitygw.sh, both once; kfake is built into .cache/bin from
# internal/testing/kafkatest/kfake. Ports: KAFKA_PORT, KINESIS_PORT, S3_PORT.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KINESIS_PORT="${KINESIS_PORT:-4567}"
S3_PORT="${S3_PORT:-7070}"
KINESALITE_VERSION="3.3.3" # keep in step with kinesistest.Version
export AWS_ACCESS_KEY_ID=runnel AWS_SECRET_ACCESS_KEY=runnelsecret AWS_REGION=us-east-1

pids=()
stop() {
	trap - INT TERM EXIT
	echo >&2
	echo "==> stopping servers" >&2
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap stop INT TERM EXIT

# wait_port PORT NAME: waits up to 60 s for something to listen on 127.0.0.1:PORT.
wait_port() {
	for _ in $(seq 600); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "$2 did not start on port $1" >&2
	exit 1
}

# kinesalite, installed as internal/testing/kinesistest does.
kdir="$root/.cache/kinesalite"
if ! grep -qs "\"version\": \"$KINESALITE_VERSION\"" "$kdir/node_modules/kinesalite/package.json"; then
	echo "==> installing kinesalite $KINESALITE_VERSION into .cache/kinesalite" >&2
	npm install --prefix "$kdir" --no-audit --no-fund --ignore-scripts "kinesalite@$KINESALITE_VERSION" >&2
fi
# kinesalite rethrows ECONNRESET of an aborted request and dies; ignore exactly that (see
# kinesistest's survivePreload).
cat >"$kdir/survive-aborted-requests.js" <<'JS'
process.on('uncaughtException', function (err) {
  if (err && err.code === 'ECONNRESET') {
    return
  }
  console.error(err)
  process.exit(1)
})
JS

versitygw="$(scripts/versitygw.sh)"
# Built rather than `go run`, so that the pid below is kfake's own and stop reaches it.
go build -o "$root/.cache/bin/kfake" ./internal/testing/kafkatest/kfake

echo "==> starting kfake on 127.0.0.1:$KAFKA_PORT" >&2
"$root/.cache/bin/kfake" -port "$KAFKA_PORT" &
pids+=($!)
echo "==> starting kinesalite on 127.0.0.1:$KINESIS_PORT" >&2
node --require="$kdir/survive-aborted-requests.js" "$kdir/node_modules/kinesalite/cli.js" --port "$KINESIS_PORT" \
	--createStreamMs 0 --deleteStreamMs 0 --updateStreamMs 50 --shardLimit 100 &
pids+=($!)
echo "==> starting versitygw on 127.0.0.1:$S3_PORT" >&2
mkdir -p .cache/dev-s3/data .cache/dev-s3/meta
"$versitygw" --access "$AWS_ACCESS_KEY_ID" --secret "$AWS_SECRET_ACCESS_KEY" --region "$AWS_REGION" \
	--port "127.0.0.1:$S3_PORT" --quiet posix --sidecar "$root/.cache/dev-s3/meta" "$root/.cache/dev-s3/data" &
pids+=($!)

wait_port "$S3_PORT" versitygw
wait_port "$KINESIS_PORT" kinesalite
wait_port "$KAFKA_PORT" kfake
sleep 0.5
for p in "${pids[@]}"; do
	if ! kill -0 "$p" 2>/dev/null; then
		echo "a server exited (is its port taken? see above)" >&2
		exit 1
	fi
done
if command -v aws >/dev/null; then
	aws --endpoint-url "http://127.0.0.1:$S3_PORT" s3 mb s3://runnel >/dev/null 2>&1 || true # exists already
else
	echo "warning: no aws CLI; create the bucket \"runnel\" yourself" >&2
fi

cat <<EOT

Servers are up; Ctrl-C stops them.

  Kafka    127.0.0.1:$KAFKA_PORT                (runnel run kafka-logs --kafka-brokers ...)
  Kinesis  http://127.0.0.1:$KINESIS_PORT        (--kinesis-endpoint)
  S3       http://127.0.0.1:$S3_PORT        (--s3-endpoint), bucket s3://runnel

In another shell:

  export AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY AWS_REGION=$AWS_REGION

EOT
wait
