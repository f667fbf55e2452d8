// Command kustomize is the upstream kustomize CLI, built from the
// sigs.k8s.io/kustomize/kustomize/v5 module pinned in go.mod (mirrors its main.go).
package main

import (
	"os"

	"sigs.k8s.io/kustomize/kustomize/v5/commands"
)

func main() {
	if err := commands.NewDefaultCommand().Execute(); err != nil {
		os.Exit(1)
	}
}
