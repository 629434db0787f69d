package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of connectrpc.conformance.v1.ServerCompatRequest and
// ServerCompatResponse. They are decoded by hand: the suite's generated Go
// types live in an internal package.
const (
	fieldHTTPVersion = 2
	fieldUseTLS      = 4
	httpVersion2     = 2
	fieldRespHost    = 1
	fieldRespPort    = 2
)

// run serves until ctx is done (the runner sends SIGTERM).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	gatewayBin := fs.String("gateway", "gateway", "gateway binary")
	referenceBin := fs.String("referenceserver", "referenceserver", "referenceserver binary")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	req, err := readDelimited(stdin)
	if err != nil {
		return fmt.Errorf("read ServerCompatRequest: %w", err)
	}
	upstreamReq, err := asH2C(req)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	ref := command(ctx, *referenceBin, "-bind", "127.0.0.1", "-port", "0")
	ref.Stderr = stderr
	refIn, err := ref.StdinPipe()
	if err != nil {
		return err
	}
	refOut, err := ref.StdoutPipe()
	if err != nil {
		return err
	}
	if err := ref.Start(); err != nil {
		return fmt.Errorf("start referenceserver: %w", err)
	}
	defer wait(ref)
	if err := writeDelimited(refIn, upstreamReq); err != nil {
		return fmt.Errorf("write to referenceserver: %w", err)
	}
	_ = refIn.Close()
	resp, err := readDelimited(refOut)
	if err != nil {
		return fmt.Errorf("read referenceserver's ServerCompatResponse: %w", err)
	}
	host, port, err := parseResponse(resp)
	if err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "gatewaysut")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfgPath := filepath.Join(dir, "gateway.yaml")
	upstream := "http://" + net.JoinHostPort(host, strconv.Itoa(int(port)))
	if err := os.WriteFile(cfgPath, []byte(gatewayConfig(upstream)), 0o600); err != nil {
		return err
	}
	gw := command(ctx, *gatewayBin)
	gw.Env = append(os.Environ(),
		"GATEWAY_CONFIG="+cfgPath,
		"GATEWAY_ADDR=127.0.0.1:0",
		"GATEWAY_ADMIN_ADDR=127.0.0.1:0",
		"GATEWAY_LOG_FORMAT=json",
		"GATEWAY_LOG_LEVEL=info",
	)
	gwErr, err := gw.StderrPipe()
	if err != nil {
		return err
	}
	if err := gw.Start(); err != nil {
		return fmt.Errorf("start gateway: %w", err)
	}
	defer wait(gw)
	addr, err := listenAddr(gwErr, stderr)
	if err != nil {
		return err
	}
	gwHost, gwPort, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	p, err := strconv.ParseUint(gwPort, 10, 32)
	if err != nil {
		return err
	}
	var out []byte
	out = protowire.AppendTag(out, fieldRespHost, protowire.BytesType)
	out = protowire.AppendString(out, gwHost)
	out = protowire.AppendTag(out, fieldRespPort, protowire.VarintType)
	out = protowire.AppendVarint(out, p)
	if err := writeDelimited(stdout, out); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// gatewayConfig fronts the reference server with one public route with no
// deadline of its own: the suite checks that a caller without a timeout
// reaches the server without one, and that callers' deadlines are honoured
// and propagated.
func gatewayConfig(upstream string) string {
	return `server:
  addr: 127.0.0.1:0
upstreams:
  reference:
    url: ` + upstream + `
    protocol: h2c
routes:
  - prefix: /
    upstream: reference
    auth: public
    timeout: none
    body_limit: 67108864
`
}

// listenAddr reads the gateway's JSON log until its "listening" record, then
// keeps relaying warnings and errors to stderr.
func listenAddr(logs io.Reader, stderr io.Writer) (string, error) {
	sc := bufio.NewScanner(logs)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	found := make(chan string, 1)
	go func() {
		defer close(found)
		sent := false
		for sc.Scan() {
			line := sc.Bytes()
			var rec struct {
				Level string `json:"level"`
				Msg   string `json:"msg"`
				Addr  string `json:"addr"`
			}
			if json.Unmarshal(line, &rec) != nil {
				fmt.Fprintf(stderr, "%s\n", line)
				continue
			}
			if !sent && rec.Msg == "listening" {
				found <- rec.Addr
				sent = true
				continue
			}
			if rec.Level == "WARN" || rec.Level == "ERROR" {
				fmt.Fprintf(stderr, "gateway: %s\n", line)
			}
		}
	}()
	select {
	case addr, ok := <-found:
		if !ok {
			return "", errors.New("gateway exited before listening")
		}
		return addr, nil
	case <-time.After(30 * time.Second):
		return "", errors.New("gateway did not start listening within 30s")
	}
}

// asH2C rewrites the request for the reference server: HTTP/2 without TLS,
// whatever the runner asked of the gateway.
func asH2C(req []byte) ([]byte, error) {
	var out []byte
	for b := req; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		if num != fieldHTTPVersion && num != fieldUseTLS {
			out = append(out, b[:n+m]...)
		}
		b = b[n+m:]
	}
	out = protowire.AppendTag(out, fieldHTTPVersion, protowire.VarintType)
	return protowire.AppendVarint(out, httpVersion2), nil
}

func parseResponse(resp []byte) (string, uint32, error) {
	var host string
	var port uint64
	for b := resp; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", 0, protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == fieldRespHost && typ == protowire.BytesType:
			v, m := protowire.ConsumeString(b)
			if m < 0 {
				return "", 0, protowire.ParseError(m)
			}
			host, b = v, b[m:]
		case num == fieldRespPort && typ == protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return "", 0, protowire.ParseError(m)
			}
			port, b = v, b[m:]
		default:
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return "", 0, protowire.ParseError(m)
			}
			b = b[m:]
		}
	}
	if host == "" || port == 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad ServerCompatResponse from referenceserver: host %q port %d", host, port)
	}
	return strings.Trim(host, "[]"), uint32(port), nil
}

func readDelimited(r io.Reader) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n > 16<<20 {
		return nil, fmt.Errorf("message of %d bytes is too large", n)
	}
	msg := make([]byte, n)
	_, err := io.ReadFull(r, msg)
	return msg, err
}

func writeDelimited(w io.Writer, msg []byte) error {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(msg)))
	_, err := w.Write(append(b, msg...))
	return err
}

// command runs name until ctx is done, then stops it with SIGTERM.
func command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	cmd.SysProcAttr = procAttr()
	return cmd
}

func wait(cmd *exec.Cmd) { _ = cmd.Wait() }
