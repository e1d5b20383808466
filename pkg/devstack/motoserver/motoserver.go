// Package motoserver runs moto's server, an AWS emulator tested against
// AWS's request validation, as the strict tier's DynamoDB and KMS. It is
// test harness: production code never uses it.
package motoserver

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"
)

//go:embed launch.py
var launcher string

// Server is a running moto server.
type Server struct {
	// URL is the endpoint, e.g. http://127.0.0.1:40123.
	URL string
	cmd *exec.Cmd
}

// Python is the interpreter that runs moto; MOTO_PYTHON overrides it.
func Python() string {
	if p := os.Getenv("MOTO_PYTHON"); p != "" {
		return p
	}
	return "python3"
}

// Available reports why moto cannot run here, or nil.
func Available() error {
	if _, err := exec.LookPath("moto_server"); err != nil {
		return errors.New(`moto_server is not installed: pip install "moto[server]"`)
	}
	if out, err := exec.Command(Python(), "-c", "import moto.server, cryptography").CombinedOutput(); err != nil {
		return fmt.Errorf("%s cannot import moto (pip install \"moto[server]\"): %v: %s", Python(), err, out)
	}
	return nil
}

// Start runs moto on a free loopback port and waits until it answers.
// Its output goes to logFile when set, else it is discarded.
func Start(ctx context.Context, logFile string) (*Server, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(Python(), "-c", launcher, "127.0.0.1", fmt.Sprint(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if logFile != "" {
		f, err := os.Create(logFile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("motoserver: start: %w", err)
	}
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case err := <-exited:
			return nil, fmt.Errorf("motoserver: exited before answering: %v", err)
		case <-deadline:
			s.Close()
			return nil, errors.New("motoserver: no answer on /moto-api/ within 60 s")
		case <-ctx.Done():
			s.Close()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := http.Get(s.URL + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				go func() { <-exited }() // reap it when it ends
				return s, nil
			}
		}
	}
}

// Close stops the server and everything it started.
func (s *Server) Close() {
	if s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("motoserver: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
