package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/client"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

func jobCommands() []command {
	return []command{
		{"jobs list", "[--cert ID] [--status STATUS] [--limit N] [--page-token TOKEN]", "List issuance and renewal jobs.", jobsList},
		{"jobs get", "ID [--wait [--timeout 10m]]", "Show a job. With --wait, poll until it is Completed, Failed or " +
			"Cancelled (progress on stderr); the exit status is 1 unless it Completed.", jobsGet},
		{"jobs repair", "ID", "End a job whose workflow execution is no longer running (stopped by hand, or failed " +
			"outside the workflow's own error paths): the job fails, a pending request expires and the certificate is " +
			"restored, audited under your name. Refused while the execution runs. Admins only.", jobsRepair},
	}
}

func jobsRepair(r *runner, args []string) error {
	id, c, err := r.idAndClient(args)
	if err != nil {
		return err
	}
	j, err := c.RepairJob(r.ctx, id)
	if err != nil {
		return err
	}
	return r.showJob(j)
}

func jobsList(r *runner, args []string) error {
	fs := r.flags()
	var f client.JobFilter
	fs.StringVar(&f.CertificateID, "cert", "", "only jobs of certificate `ID`")
	fs.StringVar(&f.Status, "status", "", "only this `STATUS`: AwaitingApproval, Pending, Running, Completed, Failed, Cancelled")
	pf := addPageFlags(fs)
	if _, err := r.parse(fs, args, 0, 0); err != nil {
		return err
	}
	c, err := r.client(r.usage(fs))
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
}

func jobsGet(r *runner, args []string) error {
	fs := r.flags()
	var wait bool
	var timeout time.Duration
	fs.BoolVar(&wait, "wait", false, "poll until the job is Completed, Failed or Cancelled")
	fs.DurationVar(&timeout, "timeout", 10*time.Minute, "give up waiting after `DURATION` (exit 1)")
	pos, err := r.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if timeout <= 0 {
		return r.usageErr(fs, "--timeout must be positive")
	}
	c, err := r.client(r.usage(fs))
	if err != nil {
		return err
	}
	var j *domain.Job
	if wait {
		j, err = r.waitJob(c, pos[0], timeout)
	} else {
		j, err = c.GetJob(r.ctx, pos[0])
	}
	if j != nil {
		if perr := r.showJob(j); perr != nil {
			return perr
		}
	}
	if err == nil && wait && j.Status != domain.JobCompleted {
		err = fmt.Errorf("job %s ended %s: %s", j.ID, j.Status, j.Error)
	}
	return err
}

// waitJob polls until the job is terminal, backing off from a quarter of a
// second (a bypassed or approved job completes in about one) to five
// seconds (one that waits for a person can wait for days). It returns the
// last job read, also when it gives up.
func (r *runner) waitJob(c *client.Client, id string, timeout time.Duration) (*domain.Job, error) {
	ctx, cancel := context.WithTimeout(r.ctx, timeout)
	defer cancel()
	delay := 250 * time.Millisecond
	var last *domain.Job
	for {
		j, err := c.GetJob(ctx, id)
		switch {
		case err != nil && ctx.Err() != nil && last != nil:
			return last, fmt.Errorf("gave up after %s: job %s is still %s", timeout, id, last.Status)
		case err != nil && transient(err) && ctx.Err() == nil:
			// A wait for a person can last days; one gateway hiccup
			// should not end it. Refusals (4xx) still do.
			fmt.Fprintf(r.stderr, "retrying: %v\n", err)
			j = last
		case err != nil:
			return last, err
		}
		if j == nil { // the very first read failed transiently
			if err := sleep(ctx, delay); err != nil {
				return nil, err
			}
			continue
		}
		if last == nil || last.Status != j.Status {
			fmt.Fprintf(r.stderr, "%s  %s\n", j.ID, j.Status)
		}
		last = j
		if j.Status.Terminal() {
			return j, nil
		}
		if err := sleep(ctx, delay); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return last, fmt.Errorf("gave up after %s: job %s is still %s", timeout, id, last.Status)
			}
			return last, err
		}
		delay = min(delay*2, 5*time.Second)
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
			{"Requested by", j.RequestedBy}, {"Error", j.Error}, {"Execution", j.ExecutionARN},
			{"Created", fmtTime(j.CreatedAt)}, {"Updated", fmtTime(j.UpdatedAt)}, {"Completed", fmtTimeP(j.CompletedAt)},
		}
	})
}
