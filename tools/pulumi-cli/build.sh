#!/usr/bin/env bash
# Builds the pinned Pulumi CLI (the version of github.com/pulumi/pulumi/pkg/v3 in go.mod) from Go
# modules into DIR (default: <project>/.state/pulumi-cli/bin), for machines that cannot reach
# Pulumi's download site, and puts pvenet's dynamic-provider plugin beside it, where the CLI
# looks for the plugins it bundles. Go's module and build caches make a second build take seconds.
#   tools/pulumi-cli/build.sh [DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../.state/pulumi-cli/bin}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$here"
version=$(go list -m -f '{{.Version}}' github.com/pulumi/pulumi/pkg/v3)
# The CLI reports the version it was stamped with; the Automation API refuses a CLI without one.
GOBIN="$out" go install -trimpath \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
install -m 0755 "$here/pulumi-resource-pulumi-python" "$out/"
echo "$out/pulumi"
