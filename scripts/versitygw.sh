#!/usr/bin/env bash
# Installs the pinned versitygw (Versity's S3 gateway) into .cache/bin, where the S3 tests'
# helper (internal/testing/s3test) looks for it, unless the pinned version is already there.
# The tests build it themselves when it is missing; run this to pay the ~90 s build up front,
# or to start a server by hand:
#
#   scripts/versitygw.sh                 install (if needed) and print the binary's path
#   scripts/versitygw.sh run DIR [PORT]  install, then serve DIR on 127.0.0.1:PORT (default 7070)
#                                        with access key "runnel" and secret "runnelsecret"
#
# Keep VERSITYGW_VERSION in step with s3test.Version.
set -euo pipefail

VERSITYGW_VERSION="v1.8.0"
GO="${GO:-go}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin_dir="$root/.cache/bin"
bin="$bin_dir/versitygw"

up_to_date() {
	[ -x "$bin" ] && "$GO" version -m "$bin" 2>/dev/null |
		grep -qE "^[[:space:]]+mod[[:space:]]+github.com/versity/versitygw[[:space:]]+${VERSITYGW_VERSION}([[:space:]]|\$)"
}

if ! up_to_date; then
	mkdir -p "$bin_dir"
	# The same lock file as s3test's, so a test run and this script never build at once.
	exec 9>"$bin_dir/.versitygw.lock"
	if command -v flock >/dev/null; then flock 9; fi
	if ! up_to_date; then
		echo "==> installing versitygw $VERSITYGW_VERSION into .cache/bin" >&2
		(cd "${TMPDIR:-/tmp}" && GOBIN="$bin_dir" GOFLAGS= GOWORK=off CGO_ENABLED=0 \
			"$GO" install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION")
	fi
	exec 9>&-
fi

case "${1:-}" in
"")
	echo "$bin"
	;;
run)
	dir="${2:?usage: scripts/versitygw.sh run DIR [PORT]}"
	mkdir -p "$dir"
	exec "$bin" --access runnel --secret runnelsecret --port "127.0.0.1:${3:-7070}" posix "$dir"
	;;
*)
	echo "usage: scripts/versitygw.sh [run DIR [PORT]]" >&2
	exit 2
	;;
esac
