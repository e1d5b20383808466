package cli

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/certctl-serverless/certctl-serverless/pkg/client"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// Shell completion: cobra's scripts (certctl completion bash|zsh|fish|
// powershell) call back into certctl for arguments. Fixed values come from
// here; ids come from the API with the current settings, when one cheap
// request can list them (the pending requests, the newest certificates,
// jobs, profiles and keys). Any failure completes nothing rather than
// printing an error into the shell.

// completionTimeout keeps a slow or absent API from hanging the shell.
const completionTimeout = 3 * time.Second

// completionPage is how many ids one completion asks for.
const completionPage = 100

func (r *runner) completeFlag(fs *pflag.FlagSet, name string, values func() []string) {
	r.completeFlagWith(fs, name, func(string) []string { return values() })
}

// completeFlagWith completes a flag from a function of what was typed.
func (r *runner) completeFlagWith(fs *pflag.FlagSet, name string, values func(prefix string) []string) {
	f := fs.Lookup(name)
	if f == nil {
		return
	}
	if f.Annotations == nil {
		f.Annotations = map[string][]string{}
	}
	r.completions[f] = func(_ *cobra.Command, _ []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return filter(values(prefix), prefix), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeFlagArgs completes a flag from the command's arguments and what
// was typed (the serials of the certificate named first).
func (r *runner) completeFlagArgs(fs *pflag.FlagSet, name string, values func(args []string, prefix string) []string) {
	f := fs.Lookup(name)
	if f == nil {
		return
	}
	r.completions[f] = func(_ *cobra.Command, args []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return filter(values(args, prefix), prefix), cobra.ShellCompDirectiveNoFileComp
	}
}

// serialsOf completes the serials of the certificate named by the first
// argument.
func (r *runner) serialsOf(args []string, _ string) []string {
	if len(args) == 0 {
		return nil
	}
	return fromAPI(r, func(ctx context.Context, c *client.Client) ([]domain.CertificateVersion, error) {
		items, _, err := c.ListVersions(ctx, args[0], page)
		return items, err
	}, func(v domain.CertificateVersion) string { return v.SerialNumber })
}

// registerCompletions hands the flag completions collected while the
// commands were built (a flag exists before its command is known) to cobra.
func (r *runner) registerCompletions(root *cobra.Command) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.LocalNonPersistentFlags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) {
				if fn, ok := r.completions[f]; ok {
					_ = c.RegisterFlagCompletionFunc(f.Name, fn)
				}
			})
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// completeIDs completes the first argument from ids.
func (r *runner) completeIDs(ids func(prefix string) []string) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return filter(ids(prefix), prefix), cobra.ShellCompDirectiveNoFileComp
	}
}

func (r *runner) completeContexts(_ *cobra.Command, args []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return filter(r.contextNames(), prefix), cobra.ShellCompDirectiveNoFileComp
}

func filter(values []string, prefix string) []cobra.Completion {
	var out []cobra.Completion
	for _, v := range values {
		if strings.HasPrefix(v, prefix) {
			out = append(out, v)
		}
	}
	return out
}

func enumOf[T ~string](vals []T) func() []string {
	return func() []string {
		out := make([]string, len(vals))
		for i, v := range vals {
			out[i] = string(v)
		}
		return out
	}
}

// fromAPI runs one listing for completion, with a short timeout.
func fromAPI[T any](r *runner, fetch func(ctx context.Context, c *client.Client) ([]T, error), id func(T) string) []string {
	c, err := r.client()
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(r.ctx, completionTimeout)
	defer cancel()
	items, err := fetch(ctx, c)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, id(it))
	}
	return out
}

var page = client.PageRequest{Limit: completionPage}

func (r *runner) pendingApprovalIDs(string) []string {
	return fromAPI(r, func(ctx context.Context, c *client.Client) ([]domain.ApprovalView, error) {
		items, _, err := c.ListApprovals(ctx, client.ApprovalFilter{State: string(domain.ApprovalPending)}, page)
		return items, err
	}, func(a domain.ApprovalView) string { return a.ID })
}

func (r *runner) approvalIDs(string) []string {
	return fromAPI(r, func(ctx context.Context, c *client.Client) ([]domain.ApprovalView, error) {
		items, _, err := c.ListApprovals(ctx, client.ApprovalFilter{}, page)
		return items, err
	}, func(a domain.ApprovalView) string { return a.ID })
}

func (r *runner) certificateIDs(string) []string {
	return fromAPI(r, func(ctx context.Context, c *client.Client) ([]domain.Certificate, error) {
		items, _, err := c.ListCertificates(ctx, client.CertificateFilter{}, page)
		return items, err
	}, func(x domain.Certificate) string { return x.ID })
}

func (r *runner) archivedCertificateIDs(string) []string {
	return fromAPI(r, func(ctx context.Context, c *client.Client) ([]domain.Certificate, error) {
		items, _, err := c.ListCertificates(ctx, client.CertificateFilter{Status: string(domain.CertArchived)}, page)
		return items, err
	}, func(x domain.Certificate) string { return x.ID })
}

func (r *runner) profileIDs(string) []string {
	return fromAPI(r, func(ctx context.Context, c *client.Client) ([]domain.Profile, error) {
		items, _, err := c.ListProfiles(ctx, page)
		return items, err
	}, func(p domain.Profile) string { return p.ID })
}

func (r *runner) jobIDs(string) []string {
	return fromAPI(r, func(ctx context.Context, c *client.Client) ([]domain.Job, error) {
		items, _, err := c.ListJobs(ctx, client.JobFilter{}, page)
		return items, err
	}, func(j domain.Job) string { return j.ID })
}

func (r *runner) keyIDs(string) []string {
	return fromAPI(r, func(ctx context.Context, c *client.Client) ([]domain.APIKey, error) {
		items, _, err := c.ListAPIKeys(ctx, "", page)
		return items, err
	}, func(k domain.APIKey) string { return k.ID })
}
