// Command kube-controller-manager is the upstream kube-controller-manager, built
// from the k8s.io/kubernetes module pinned in go.mod (mirrors its cmd/ main).
package main

import (
	_ "time/tzdata" // for timeZone support in CronJob

	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
	"podmetaexporter.local/controlplane/kubernetes/component"
)

func main() {
	component.Run(app.NewControllerManagerCommand())
}
