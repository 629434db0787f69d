// Package e2e tests the whole stack as it is deployed: the real authsvc
// and gateway binaries, built once, run as processes on free ports, and
// driven through the gateway.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bin holds the binaries TestMain builds.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "authgw-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = dir
	code := func() int {
		defer os.RemoveAll(dir)
		for _, cmd := range []string{"authsvc", "gateway"} {
			out, err := exec.Command("go", "build", "-race", "-o", filepath.Join(dir, cmd),
				"github.com/acme/authgw/"+cmd+"/cmd/"+cmd).CombinedOutput()
			if err != nil {
				fmt.Fprintf(os.Stderr, "building %s: %v\n%s", cmd, err, out)
				return 1
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

// process is one running program.
type process struct {
	name string
	cmd  *exec.Cmd
	logs *logBuffer
	addr string
	// admin is the address of the metrics listener.
	admin string
	done  chan struct{}
}

// logBuffer keeps a program's JSON log lines and reports the address of
// its first "listening" record.
type logBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	addrc chan string
	sent  bool
	admin string
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	sc := bufio.NewScanner(bytes.NewReader(p))
	for sc.Scan() {
		var rec struct{ Msg, Addr, Listener string }
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue
		}
		switch {
		case rec.Msg == "admin listening":
			l.admin = rec.Addr
		case rec.Msg == "listening" && !l.sent:
			l.sent = true
			l.addrc <- rec.Addr
		}
	}
	return len(p), nil
}

// Lines returns the decoded JSON log records.
func (l *logBuffer) Lines() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(l.buf.Bytes()))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) == nil {
			out = append(out, rec)
		}
	}
	return out
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// run starts a built program with env and waits until it listens.
func run(t *testing.T, name string, env map[string]string) *process {
	t.Helper()
	p := &process{name: name, logs: &logBuffer{addrc: make(chan string, 1)}, done: make(chan struct{})}
	p.cmd = exec.Command(filepath.Join(bin, name))
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stderr = p.logs
	p.cmd.Stdout = p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("%s logs:\n%s", name, p.logs)
		}
	})
	select {
	case p.addr = <-p.logs.addrc:
		p.logs.mu.Lock()
		p.admin = p.logs.admin
		p.logs.mu.Unlock()
	case <-p.done:
		t.Fatalf("%s exited before listening:\n%s", name, p.logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not listen within 30s:\n%s", name, p.logs)
	}
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("%s exited with %d after SIGTERM, want 0", p.name, code)
		}
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Errorf("%s did not stop within 30s of SIGTERM", p.name)
	}
}

// stack is the auth service behind the gateway.
type stack struct {
	auth, gateway *process
	url           string // the gateway's base URL
}

// startStack runs both programs; extra is added to both environments.
func startStack(t *testing.T, extra map[string]string) *stack {
	t.Helper()
	authEnv := map[string]string{
		"AUTH_ADDR":              "127.0.0.1:0",
		"AUTH_ADMIN_ADDR":        "127.0.0.1:0",
		"AUTH_DATA_DIR":          t.TempDir(),
		"AUTH_ARGON2_MEMORY_KIB": "64",
		"AUTH_ARGON2_ITERATIONS": "1",
		"AUTH_TRUSTED_PROXIES":   "127.0.0.1",
	}
	for k, v := range extra {
		authEnv[k] = v
	}
	auth := run(t, "authsvc", authEnv)
	gwEnv := map[string]string{
		"GATEWAY_ADDR":          "127.0.0.1:0",
		"GATEWAY_ADMIN_ADDR":    "127.0.0.1:0",
		"GATEWAY_AUTH_UPSTREAM": "http://" + auth.addr,
	}
	for k, v := range extra {
		gwEnv[k] = v
	}
	gw := run(t, "gateway", gwEnv)
	s := &stack{auth: auth, gateway: gw, url: "http://" + gw.addr}
	waitReady(t, s.url+"/readyz")
	return s
}

func waitReady(t *testing.T, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s not ready: %v", url, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
