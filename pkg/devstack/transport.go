package devstack

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// kumoSelfHost is where the emulator's services call each other (Step
// Functions -> Lambda, execute-api -> Lambda, ...). Step Functions has it as
// a constant; KUMO_HOST/KUMO_PORT move it for some other services, but only
// process-wide, never to an in-process server's random port.
const kumoSelfHost = "localhost:4566"

// emulatorTargets is the set of live emulator URLs that self-calls are
// rewritten to. kumo's services are process-global singletons, so any live
// server reaches the same state; the newest one is used.
var emulatorTargets targetSet

type targetSet struct {
	mu   sync.Mutex
	urls []*url.URL
}

func (t *targetSet) add(raw string) {
	u, err := url.Parse(raw)
	if err != nil {
		return
	}
	t.mu.Lock()
	t.urls = append(t.urls, u)
	t.mu.Unlock()
}

func (t *targetSet) remove(raw string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, u := range t.urls {
		if u.String() == raw {
			t.urls = append(t.urls[:i], t.urls[i+1:]...)
			return
		}
	}
}

func (t *targetSet) current() *url.URL {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.urls) == 0 {
		return nil
	}
	return t.urls[len(t.urls)-1]
}

var transportOnce sync.Once

// installTransport replaces http.DefaultTransport, once per process, with
// one that sends the emulator's self-calls to a live server. This is needed
// because kumo's Step Functions engine (&http.Client{Timeout: 30s}) and its
// Lambda service (http.DefaultClient, for InvokeEndpoint calls) have no
// transport of their own, so they read http.DefaultTransport on every
// request. AWS SDK clients are unaffected: they build their own transport.
func installTransport() {
	transportOnce.Do(func() {
		http.DefaultTransport = &selfCallTransport{base: http.DefaultTransport}
	})
}

type selfCallTransport struct {
	base http.RoundTripper
}

func (t *selfCallTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	target := emulatorTargets.current()
	if req.URL.Host != kumoSelfHost || target == nil {
		return t.base.RoundTrip(req)
	}
	// An execution ended by the emulator's 5-minute cap still runs its Catch
	// path (ResolveTimeout) with the dead context. Never let that call reach
	// a function: it would expire an approval that is merely being re-driven.
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	// A RoundTripper must not modify the caller's request.
	r := req.Clone(req.Context())
	r.URL.Scheme, r.URL.Host, r.Host = target.Scheme, target.Host, target.Host
	fn, invoke := invokedFunction(r.URL.Path)
	if !invoke {
		return t.base.RoundTrip(r)
	}
	observeInvocation(InvokerStateMachine, fn) // only Step Functions invokes functions through self-calls
	resp, err := namedRetries.invoke(r, fn, t.base)
	if err != nil {
		return nil, err
	}
	if resp.Header.Get("X-Amz-Function-Error") != "" {
		// kumo's Step Functions engine fails a Lambda task only on a non-200
		// status; Lambda answers a function error with 200 plus this header,
		// which kumo ignores, so the task would "succeed" with the error
		// payload as its result. AWS fails the task instead. Turning the
		// response into a 500 makes kumo raise States.TaskFailed, which the
		// state machine's Catch ("States.ALL") routes like AWS would; the
		// error payload stays in the body and thus in the error's Cause.
		// Only emulator self-calls pass here, never SDK clients.
		resp.StatusCode = http.StatusInternalServerError
		resp.Status = "500 Internal Server Error"
	}
	return resp, nil
}

// invokedFunction matches /2015-03-31/functions/{name}/invocations.
func invokedFunction(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "/2015-03-31/functions/")
	if !ok {
		return "", false
	}
	name, ok := strings.CutSuffix(rest, "/invocations")
	return name, ok && name != "" && !strings.Contains(name, "/")
}
