package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/certctl-serverless/certctl-serverless/pkg/client"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

func jobCommands(r *runner) []*cobra.Command {
	var f client.JobFilter
	var pf *pageFlags
	list := r.leaf("list", "List issuance and renewal jobs", "", 0, 0, func(r *runner, _ *cobra.Command, _ []string) error {
		c, err := r.client()
		if err != nil {
			return err
		}
		fetch := func(ctx context.Context, p client.PageRequest) ([]domain.Job, string, error) {
			return c.ListJobs(ctx, f, p)
		}
		return listing(r, pf, fetch, []string{"ID", "TYPE", "STATUS", "CERTIFICATE", "APPROVAL", "REQUESTED BY", "AGE", "ERROR"},
			func(j domain.Job) []string {
				return []string{j.ID, string(j.Type), string(j.Status), j.CertificateID, j.ApprovalID, j.RequestedBy, r.fmtAge(j.CreatedAt), j.Error}
			})
	})
	list.Flags().StringVar(&f.CertificateID, "cert", "", "only jobs of certificate `ID`")
	list.Flags().StringVar(&f.Status, "status", "", "only this `STATUS`: AwaitingApproval, Pending, Running, Completed, Failed, Cancelled")
	pf = addPageFlags(list.Flags())
	r.completeFlag(list.Flags(), "status", enumOf(jobStatuses))
	r.completeFlagWith(list.Flags(), "cert", r.certificateIDs)

	w := &waitFlags{}
	get := r.leaf("get ID", "Show a job; --wait polls until it ends",
		"Show a job. With --wait, poll until it is Completed, Failed or Cancelled (progress on stderr: a live line on a "+
			"terminal); the exit status is 1 unless it Completed.", 1, 1,
		func(r *runner, cmd *cobra.Command, args []string) error {
			if err := w.check(r, cmd); err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			if !w.wait {
				j, err := c.GetJob(r.ctx, args[0])
				if err != nil {
					return err
				}
				return r.showJob(j)
			}
			return r.waitAndShow(c, args[0], w)
		})
	get.Aliases = []string{"show", "describe"}
	get.Example = "  certctl jobs get job-01h… --wait --timeout 30m"
	w.register(get, false)
	get.ValidArgsFunction = r.completeIDs(r.jobIDs)

	repair := r.leaf("repair ID", "End a job whose workflow execution no longer runs (admin)",
		"End a job whose workflow execution is no longer running (stopped by hand, or failed outside the workflow's "+
			"own error paths): the job fails, a pending request expires and the certificate is restored, audited under "+
			"your name. Refused while the execution runs. Admins only.", 1, 1,
		func(r *runner, _ *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			j, err := c.RepairJob(r.ctx, args[0])
			if err != nil {
				return err
			}
			return r.showJob(j)
		})
	repair.ValidArgsFunction = r.completeIDs(r.jobIDs)
	return []*cobra.Command{list, get, repair}
}

var jobStatuses = []domain.JobStatus{domain.JobAwaitingApproval, domain.JobPending, domain.JobRunning, domain.JobCompleted, domain.JobFailed, domain.JobCancelled}

// waitFlags are --wait and --timeout, on every command that starts or
// unblocks a job.
type waitFlags struct {
	wait    bool
	timeout time.Duration
}

func (w *waitFlags) register(cmd *cobra.Command, starts bool) {
	what := "poll the job until it is Completed, Failed or Cancelled (exit 1 unless Completed)"
	if starts {
		what = "then " + what
	}
	cmd.Flags().BoolVar(&w.wait, "wait", false, what)
	cmd.Flags().DurationVar(&w.timeout, "timeout", 0, "give up waiting after `DURATION` (exit 1); default: until the "+
		"approval request expires (the server's approval timeout) plus the reaper's 10 minutes, or 10m when nothing awaits approval")
}

func (w *waitFlags) check(r *runner, cmd *cobra.Command) error {
	if cmd.Flags().Changed("timeout") && w.timeout <= 0 {
		return r.usageErr("%s: --timeout must be positive", name(cmd))
	}
	return nil
}

// waitAndShow waits for a job, shows where it ended and fails unless it
// completed.
func (r *runner) waitAndShow(c *client.Client, id string, w *waitFlags) error {
	j, err := r.waitJob(c, id, w.timeout)
	if j != nil {
		if perr := r.showJob(j); perr != nil {
			return perr
		}
	}
	if err == nil && j.Status != domain.JobCompleted {
		err = fmt.Errorf("job %s ended %s: %s", j.ID, j.Status, j.Error)
	}
	return err
}

// defaultWaitWithoutApproval bounds a wait for a job no person holds up: an
// issuance takes seconds.
const defaultWaitWithoutApproval = 10 * time.Minute

// reaperSlack is how long after its expiry a request may stay pending: the
// reaper runs every 10 minutes (the state machine's timeout is the backstop).
const reaperSlack = 11 * time.Minute

// waitTimeout is the wait's bound when none was given: as long as the
// approval the job waits for can stay pending, as the server reports it.
func (r *runner) waitTimeout(c *client.Client, j *domain.Job) time.Duration {
	if j == nil || j.ApprovalID == "" || j.Status != domain.JobAwaitingApproval {
		return defaultWaitWithoutApproval
	}
	a, err := c.GetApproval(r.ctx, j.ApprovalID)
	if err != nil || a.ExpiresAt.IsZero() {
		return defaultWaitWithoutApproval
	}
	return max(time.Until(a.ExpiresAt)+reaperSlack, time.Minute)
}

// waitJob polls until the job is terminal, backing off from a quarter of a
// second (a bypassed or approved job completes in about one) to five
// seconds (one that waits for a person can wait for days). It returns the
// last job read, also when it gives up. timeout 0 means the default.
func (r *runner) waitJob(c *client.Client, id string, timeout time.Duration) (*domain.Job, error) {
	start := time.Now()
	first, err := c.GetJob(r.ctx, id)
	if err != nil && !transient(err) {
		return nil, err
	}
	if timeout == 0 {
		timeout = r.waitTimeout(c, first)
	}
	ctx, cancel := context.WithTimeout(r.ctx, timeout)
	defer cancel()
	live := isTerminal(r.stderr)
	progress := func(j *domain.Job, changed bool) {
		switch {
		case live:
			fmt.Fprintf(r.stderr, "\r\x1b[K%s  %s  %s", j.ID, j.Status, time.Since(start).Truncate(time.Second))
			if j.Status.Terminal() {
				fmt.Fprintln(r.stderr)
			}
		case changed:
			fmt.Fprintf(r.stderr, "%s  %s\n", j.ID, j.Status)
		}
	}
	gaveUp := func(last *domain.Job) error {
		if live {
			fmt.Fprintln(r.stderr)
		}
		return fmt.Errorf("gave up after %s: job %s is still %s", timeout, id, last.Status)
	}
	delay := 250 * time.Millisecond
	var last *domain.Job
	j := first
	for {
		switch {
		case err != nil && ctx.Err() != nil && last != nil:
			return last, gaveUp(last)
		case err != nil && transient(err) && ctx.Err() == nil:
			// A wait for a person can last days; one gateway hiccup
			// should not end it. Refusals (4xx) still do.
			if live {
				fmt.Fprintln(r.stderr)
			}
			fmt.Fprintf(r.stderr, "retrying: %v\n", err)
			j = last
		case err != nil:
			return last, err
		}
		if j != nil {
			progress(j, last == nil || last.Status != j.Status)
			last = j
			if j.Status.Terminal() {
				return j, nil
			}
		}
		if err := sleep(ctx, delay); err != nil {
			if errors.Is(err, context.DeadlineExceeded) && last != nil {
				return last, gaveUp(last)
			}
			return last, err
		}
		delay = min(delay*2, 5*time.Second)
		j, err = c.GetJob(ctx, id)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// transient reports errors worth polling through: the network, throttling
// and server-side failures, as opposed to a refusal of the request.
func transient(err error) bool {
	status := client.StatusOf(err)
	return status == 0 || status == 429 || status >= 500
}

func (r *runner) showJob(j *domain.Job) error {
	return r.show(j, func() []field {
		return []field{
			{"ID", j.ID}, {"Type", string(j.Type)}, {"Status", string(j.Status)}, {"Certificate", j.CertificateID},
			{"Profile", j.ProfileID}, {"Requires approval", yesNo(j.RequiresApproval)}, {"Approval", j.ApprovalID},
			{"Requested by", j.RequestedBy}, {"Reason", j.RequestReason}, {"Error", j.Error}, {"Execution", j.ExecutionARN},
			{"Created", fmtTime(j.CreatedAt)}, {"Updated", fmtTime(j.UpdatedAt)}, {"Completed", fmtTimeP(j.CompletedAt)},
			{"Delivery", jobDelivery(j.Delivery)}, {"Delivery error", deliveryError(j.Delivery)},
		}
	})
}

// jobDelivery shows how the version a job issued was published.
func jobDelivery(d *domain.DeliveryStatus) string {
	if d == nil {
		return ""
	}
	out := fmt.Sprintf("%s after %d attempts to %s", d.Status, d.Attempts,
		deliveryTargets(&domain.DeliveryTargets{SSMParameter: d.SSMParameter, Secret: d.Secret}))
	if d.Attempts == 1 {
		out = strings.Replace(out, "1 attempts", "1 attempt", 1)
	}
	if d.DeliveredAt != nil {
		out += ", delivered " + fmtTime(*d.DeliveredAt)
	}
	return out
}

func deliveryError(d *domain.DeliveryStatus) string {
	if d == nil {
		return ""
	}
	return d.LastError
}
