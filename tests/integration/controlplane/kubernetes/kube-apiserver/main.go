// Command kube-apiserver is the upstream kube-apiserver, built from the
// k8s.io/kubernetes module pinned in go.mod (mirrors cmd/kube-apiserver).
package main

import (
	_ "time/tzdata" // for timeZone support in CronJob

	"k8s.io/kubernetes/cmd/kube-apiserver/app"
	"podmetaexporter.local/controlplane/kubernetes/component"
)

func main() {
	component.Run(app.NewAPIServerCommand())
}
