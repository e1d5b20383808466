package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

var authHeader = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=AKIDTEST/(\d{8})/eu-west-1/execute-api/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}$`)

// verifySigV4 checks a request as API Gateway would: rebuild it from the
// signed headers only, sign it again with the same secret at the same time,
// and compare. A body or path changed after signing would not match.
// It runs in the server's goroutine, so it reports rather than stops.
func verifySigV4(r *http.Request, body []byte, creds aws.Credentials) error {
	got := r.Header.Get("Authorization")
	m := authHeader.FindStringSubmatch(got)
	if m == nil {
		return fmt.Errorf("Authorization %q", got)
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil || at.Format("20060102") != m[1] {
		return fmt.Errorf("X-Amz-Date %q (scope date %s): %v", r.Header.Get("X-Amz-Date"), m[1], err)
	}
	again, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	again.ContentLength = r.ContentLength
	for _, h := range strings.Split(m[2], ";") {
		if h != "host" && h != "content-length" {
			again.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, again, hex.EncodeToString(sum[:]), "execute-api", "eu-west-1", at); err != nil {
		return err
	}
	if again.Header.Get("Authorization") != got {
		return fmt.Errorf("signature does not verify:\n got  %s\n want %s", got, again.Header.Get("Authorization"))
	}
	return nil
}

func TestSigV4(t *testing.T) {
	for _, token := range []string{"SESSIONTOKEN", ""} {
		creds := aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "SECRET", SessionToken: token}
		var checked int
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if err := verifySigV4(r, body, creds); err != nil {
				t.Error(err)
				w.WriteHeader(http.StatusForbidden)
				return
			}
			if r.Header.Get("X-Amz-Security-Token") != token {
				t.Errorf("X-Amz-Security-Token %q, want %q", r.Header.Get("X-Amz-Security-Token"), token)
			}
			if r.Header.Get("X-Api-Key") != "" {
				t.Error("SigV4 requests must not carry an API key")
			}
			if token != "" && !strings.Contains(r.Header.Get("Authorization"), "x-amz-security-token") {
				t.Error("the session token is not signed")
			}
			checked++
			_, _ = io.WriteString(w, `{"id":"ar-1","decided_by":"iam:x","action":"approved"}`)
		}))
		cfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "SECRET", token)}
		c := New(srv.URL+"/prod", SigV4(cfg), nil)
		if _, err := c.Approve(context.Background(), "ar-1", "with a body"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetApproval(context.Background(), "ar-1"); err != nil { // no body
			t.Fatal(err)
		}
		if _, _, err := c.ListApprovals(context.Background(), ApprovalFilter{State: "pending"}, PageRequest{Limit: 5, Token: "a b"}); err != nil {
			t.Fatal(err)
		}
		srv.Close()
		if checked != 3 {
			t.Fatalf("server checked %d requests", checked)
		}
	}
}

func TestSigV4Region(t *testing.T) {
	if got := regionFromHost("abc123.execute-api.eu-west-1.amazonaws.com"); got != "eu-west-1" {
		t.Fatalf("region %q", got)
	}
	if got := regionFromHost("abc123.execute-api.cn-north-1.amazonaws.com.cn"); got != "cn-north-1" {
		t.Fatalf("region %q", got)
	}
	if got := regionFromHost("abc123-vpce-0a1b2c.execute-api.us-gov-west-1.vpce.amazonaws.com"); got != "us-gov-west-1" {
		t.Fatalf("region %q", got)
	}
	for _, host := range []string{"127.0.0.1", "certs.example.com", "execute-api.example.com", "abc.execute-api.notaregion.amazonaws.com"} {
		if got := regionFromHost(host); got != "" {
			t.Fatalf("%s: region %q", host, got)
		}
	}
	cfg := aws.Config{Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "SECRET", "")}
	req := httptest.NewRequest("GET", "http://127.0.0.1/api/v1/jobs", nil)
	if err := SigV4(cfg).authorize(context.Background(), req, nil); err == nil || !strings.Contains(err.Error(), "AWS_REGION") {
		t.Fatalf("no region: %v", err)
	}
	req = httptest.NewRequest("GET", "https://abc.execute-api.us-east-2.amazonaws.com/prod/api/v1/jobs", nil)
	if err := SigV4(cfg).authorize(context.Background(), req, nil); err != nil || !strings.Contains(req.Header.Get("Authorization"), "/us-east-2/execute-api/") {
		t.Fatalf("region from host: %v %q", err, req.Header.Get("Authorization"))
	}
	if err := SigV4(aws.Config{Region: "eu-west-1"}).authorize(context.Background(), req, nil); err == nil {
		t.Fatal("no credentials: no error")
	}
	// The endpoint's region wins over the profile's: API Gateway verifies
	// the signature for the region it serves.
	cfg.Region = "eu-west-1"
	req = httptest.NewRequest("GET", "https://abc.execute-api.ap-southeast-2.amazonaws.com/prod/api/v1/jobs", nil)
	if err := SigV4(cfg).authorize(context.Background(), req, nil); err != nil || !strings.Contains(req.Header.Get("Authorization"), "/ap-southeast-2/execute-api/") {
		t.Fatalf("host region over profile region: %v %q", err, req.Header.Get("Authorization"))
	}
	// A host without a region (a custom domain) is signed for the profile's.
	req = httptest.NewRequest("GET", "https://certs.example.com/api/v1/jobs", nil)
	if err := SigV4(cfg).authorize(context.Background(), req, nil); err != nil || !strings.Contains(req.Header.Get("Authorization"), "/eu-west-1/execute-api/") {
		t.Fatalf("custom domain: %v %q", err, req.Header.Get("Authorization"))
	}
}
