// Command kubectl is the upstream kubectl, built from the k8s.io/kubernetes module pinned in
// go.mod (mirrors cmd/kubectl): the e2e tier's client and the offline kind node's, at the
// cluster's version.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"

	// Client auth plugins (exec, OIDC), as upstream's main registers them.
	_ "k8s.io/client-go/plugin/pkg/client/auth"
)

func main() {
	// As upstream: the verbosity is set before the command is built, which already logs.
	logs.GlogSetter(cmd.GetLogVerbosity(os.Args)) //nolint:errcheck
	command := cmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		util.CheckErr(err)
	}
}
