// Command pause is the node tier's pod sandbox image, and the init of its process namespace:
// it sleeps, reaps every child it inherits, and exits 0 on SIGTERM or SIGINT, as Kubernetes'
// own pause does. Built statically (CGO_ENABLED=0), so the image needs no libc.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
