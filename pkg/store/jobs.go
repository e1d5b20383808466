package store

import (
	"context"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// GetJob reads one job.
func (st *Store) GetJob(ctx context.Context, id string) (*domain.Job, error) {
	item, err := st.get(ctx, jobKey(id), "job "+id)
	if err != nil {
		return nil, err
	}
	return decode(item, (*jobItem).toDomain)
}

// ListJobs lists jobs newest first, through the per-certificate index when a
// certificate is given.
func (st *Store) ListJobs(ctx context.Context, f domain.JobFilter, page domain.PageRequest) ([]*domain.Job, string, error) {
	q := st.listQuery(tagJob)
	if f.CertificateID != "" {
		q = query{table: st.stateTable, index: IndexParent, key: keyOf(attrParentPK).Equal(valueOf(s(jobsOf(f.CertificateID))))}
	}
	q.filter = eqFilters(map[string]string{attrStatus: f.Status})
	return queryAs(ctx, st, q, page, decoder((*jobItem).toDomain))
}
