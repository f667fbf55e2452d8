// Command kube-scheduler is the upstream kube-scheduler, built from the
// k8s.io/kubernetes module pinned in go.mod (mirrors cmd/kube-scheduler).
package main

import (
	"k8s.io/kubernetes/cmd/kube-scheduler/app"
	"podmetaexporter.local/controlplane/kubernetes/component"
)

func main() {
	component.Run(app.NewSchedulerCommand())
}
