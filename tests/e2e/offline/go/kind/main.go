// Command kind is the upstream kind CLI, built from the sigs.k8s.io/kind module pinned in go.mod
// (mirrors the module's own main.go), for the e2e tier's offline cluster.
package main

import "sigs.k8s.io/kind/cmd/kind/app"

func main() {
	app.Main()
}
