package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/certctl-serverless/certctl-serverless/pkg/client"
	"github.com/certctl-serverless/certctl-serverless/pkg/version"
)

// versions is what `certctl version` prints: this binary's build and, when
// an endpoint is known, the version the API's health probe reports.
type versions struct {
	Client version.Info `json:"client"`
	Server string       `json:"server,omitempty"`
}

func (r *runner) versionCommand() *cobra.Command {
	var clientOnly bool
	cmd := r.leaf("version", "Print certctl's version and, with an endpoint, the API's", "", 0, 0,
		func(r *runner, _ *cobra.Command, _ []string) error {
			v := versions{Client: version.Get()}
			v.Client.Version = version.String()
			var serverErr error
			if !clientOnly {
				v.Server, serverErr = r.serverVersion()
			}
			if r.structured() {
				return r.printValue(v)
			}
			fmt.Fprintf(r.stdout, "certctl %s (%s)\n", v.Client.Version, v.Client.Go)
			switch {
			case v.Server != "":
				fmt.Fprintf(r.stdout, "server  %s\n", v.Server)
			case serverErr != nil:
				fmt.Fprintf(r.stderr, "server version unknown: %v\n", serverErr)
			}
			return nil
		})
	cmd.Flags().BoolVar(&clientOnly, "client", false, "only this binary's version; do not ask the API")
	return cmd
}

// serverVersion asks the open health route; no endpoint is no answer.
func (r *runner) serverVersion() (string, error) {
	s, err := r.settings()
	if err != nil || s.endpoint == "" {
		return "", err
	}
	ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
	defer cancel()
	h, err := client.New(s.endpoint, nil, nil).HealthInfo(ctx)
	if err != nil {
		return "", err
	}
	return h.Version, nil
}
