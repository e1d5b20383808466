package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The compose file cannot be checked with `docker compose config` where
// there is no Docker; this parses it and checks what the LocalStack path
// relies on.
func TestLocalStackCompose(t *testing.T) {
	root, err := FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "localstack", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]struct {
			Container   string   `yaml:"container_name"`
			Image       string   `yaml:"image"`
			Ports       []string `yaml:"ports"`
			Environment []string `yaml:"environment"`
			Volumes     []string `yaml:"volumes"`
		} `yaml:"services"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	ls, ok := f.Services["localstack"]
	if !ok {
		t.Fatalf("no localstack service")
	}
	if ls.Image != "${LOCALSTACK_IMAGE:-localstack/localstack:4.14.0}" {
		t.Errorf("image %q: want the pinned 4.14.0 tag by default", ls.Image)
	}
	// Passed through only when set: a bare name, no value.
	if !slices.Contains(ls.Environment, "LOCALSTACK_AUTH_TOKEN") {
		t.Errorf("LOCALSTACK_AUTH_TOKEN not passed through: %v", ls.Environment)
	}
	var services string
	for _, e := range ls.Environment {
		if strings.HasPrefix(e, "SERVICES=") {
			services = e
		}
	}
	for _, svc := range []string{"apigateway", "cloudformation", "dynamodb", "iam", "kms", "lambda", "logs", "s3",
		"scheduler", "sqs", "ssm", "stepfunctions", "sts"} {
		if !strings.Contains(services, svc) {
			t.Errorf("SERVICES lacks %s: %s", svc, services)
		}
	}
	if !slices.Contains(ls.Volumes, "/var/run/docker.sock:/var/run/docker.sock") {
		t.Errorf("Docker socket not mounted: %v", ls.Volumes)
	}
	for _, p := range ls.Ports {
		if !strings.HasPrefix(p, "127.0.0.1:") {
			t.Errorf("port %q is not bound to loopback", p)
		}
	}
	if !slices.Contains(ls.Ports, "127.0.0.1:4566:4566") {
		t.Errorf("edge port 4566 not published: %v", ls.Ports)
	}
}
