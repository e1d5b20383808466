package store

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// GetJob reads one job.
func (st *Store) GetJob(ctx context.Context, id string) (*domain.Job, error) {
	item, err := st.get(ctx, "JOB#"+id, "JOB", "job "+id)
	if err != nil {
		return nil, err
	}
	return jobFromItem(item)
}

// ListJobs lists jobs newest first, through the per-certificate index when a
// certificate is given.
func (st *Store) ListJobs(ctx context.Context, f domain.JobFilter, page domain.PageRequest) ([]*domain.Job, string, error) {
	in := st.listQuery("JOB")
	if f.CertificateID != "" {
		in = &dynamodb.QueryInput{
			TableName:                 aws.String(st.stateTable),
			IndexName:                 aws.String(IndexParent),
			KeyConditionExpression:    aws.String("parent_pk = :p"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": s("CERT#" + f.CertificateID + "#JOB")},
			ScanIndexForward:          aws.Bool(false),
		}
	}
	filter(in, map[string]string{"status": f.Status})
	return queryAs(ctx, st, in, page, jobFromItem)
}
