//go:build tools

// Package tools pins the Pulumi CLI that pvenet builds from Go modules where Pulumi's download
// site cannot be reached (build.sh in this folder). go.mod holds the version; the replace line
// is the one of pulumi/pkg's go.mod that points outside Pulumi's repository (Go ignores replace
// lines of dependencies, so a module that builds the CLI must repeat it).
//
// The Python language host (github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3)
// is not built: the Go module proxy these machines use refuses every version of it. pvenet runs
// its programs through the Automation API instead, whose Python SDK serves the program itself.
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
