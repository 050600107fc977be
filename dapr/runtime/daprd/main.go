// Command daprd is the upstream Dapr sidecar with three components that the
// "stablecomponents" build leaves out and Bazaar needs: pubsub.jetstream
// (events through the runner's embedded NATS server), nameresolution.sqlite
// (many sidecars on one host without multicast) and bindings.smtp (the
// notification service's e-mails).
package main

import (
	"github.com/dapr/components-contrib/bindings/smtp"
	"github.com/dapr/components-contrib/nameresolution/sqlite"
	"github.com/dapr/components-contrib/pubsub/jetstream"
	"github.com/dapr/dapr/cmd/daprd/app"
	bindingsLoader "github.com/dapr/dapr/pkg/components/bindings"
	nrLoader "github.com/dapr/dapr/pkg/components/nameresolution"
	pubsubLoader "github.com/dapr/dapr/pkg/components/pubsub"
)

func init() {
	pubsubLoader.DefaultRegistry.RegisterComponent(jetstream.NewJetStream, "jetstream")
	nrLoader.DefaultRegistry.RegisterComponent(sqlite.NewResolver, "sqlite")
	bindingsLoader.DefaultRegistry.RegisterOutputBinding(smtp.NewSMTP, "smtp")
}

func main() {
	app.Run()
}
