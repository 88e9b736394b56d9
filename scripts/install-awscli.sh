#!/usr/bin/env bash
# Installs the AWS CLI v2 that Debian packages (awscli, at /usr/bin/aws) when it is missing:
# the managed service's tests drive the server with it, and read the Managed Flink service
# model it ships (botocore's kinesisanalyticsv2 service-2.json). Needs root (or sudo); without
# either it says so and the tests that need the CLI skip.
set -euo pipefail
if [ -x /usr/bin/aws ]; then
	exit 0
fi
as_root=()
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
		as_root=(sudo -n)
	else
		echo "install-awscli: not root and no sudo: the AWS CLI tests will skip (apt-get install -y awscli installs it)" >&2
		exit 0
	fi
fi
echo "==> installing the AWS CLI v2 (apt-get install awscli)" >&2
"${as_root[@]}" apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq awscli >/dev/null
