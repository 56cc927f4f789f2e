package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRunUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), nil, &stdout, &stderr)
	if !errors.Is(err, errUsage) {
		t.Fatalf("run() = %v, want errUsage (exit status 2)", err)
	}
	if !strings.Contains(stderr.String(), "Usage:") || !strings.Contains(stderr.String(), "arbor serve") {
		t.Fatalf("run() printed %q to stderr, want the usage", stderr.String())
	}
	if stdout.Len() != 0 {
		t.Fatalf("run() printed %q to stdout, want nothing", stdout.String())
	}

	for _, arg := range []string{"help", "-h", "--help"} {
		stdout.Reset()
		stderr.Reset()
		if err := run(t.Context(), []string{arg}, &stdout, &stderr); err != nil {
			t.Fatalf("run(%q) = %v, want nil", arg, err)
		}
		if !strings.Contains(stdout.String(), "Usage:") {
			t.Fatalf("run(%q) printed %q to stdout, want the usage", arg, stdout.String())
		}
	}

	stdout.Reset()
	stderr.Reset()
	err = run(t.Context(), []string{"frobnicate"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), `unknown command "frobnicate"`) {
		t.Fatalf(`run("frobnicate") = %v, want an unknown command error`, err)
	}
	if errors.Is(err, flag.ErrHelp) {
		t.Fatalf(`run("frobnicate") = %v, must not be flag.ErrHelp`, err)
	}
	if !strings.Contains(stderr.String(), "Usage:") {
		t.Fatalf(`run("frobnicate") printed %q to stderr, want the usage`, stderr.String())
	}

	stderr.Reset()
	if err := run(t.Context(), []string{"serve", "-h"}, &stdout, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run(serve -h) = %v, want flag.ErrHelp", err)
	}
	for _, name := range []string{"-addr", "-data-dir", "-nats-listen", "-nats-url", "-hierarchy", "ARBOR_HIERARCHY"} {
		if !strings.Contains(stderr.String(), name) {
			t.Errorf("serve -h does not mention %s:\n%s", name, stderr.String())
		}
	}
	if err := run(t.Context(), []string{"serve", "--replicas", "0"}, &stdout, &stderr); err == nil {
		t.Fatal("run(serve --replicas 0) = nil, want an error")
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunServe runs `arbor serve` in-process until its context ends: it
// logs JSON, serves, and returns nil on a graceful shutdown.
func TestRunServe(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr syncBuffer
	var runErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		runErr = run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dir, "--nats-listen", "", "--nats-url", "",
			"--hierarchy", "ml_pipeline=experiment,model,predictions"}, &stdout, &stderr)
	}()
	// However the test ends, serve has returned before dir is removed.
	t.Cleanup(func() {
		cancel()
		<-done
	})

	var base string
	ok := pollUntil(t.Context(), 20*time.Second, func() bool {
		select {
		case <-done:
			t.Fatalf("serve returned early: %v\n%s", runErr, stderr.String())
		default:
		}
		sc := bufio.NewScanner(strings.NewReader(stderr.String()))
		for sc.Scan() {
			var line struct {
				Msg string `json:"msg"`
				URL string `json:"url"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "arbor serving" {
				base = line.URL
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("no \"arbor serving\" line logged:\n%s", stderr.String())
	}
	c := newTestClient(t, base)
	c.waitHealthy(10 * time.Second)
	var a testDoc
	c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"data": map[string]any{"name": "exp"}}, &a)
	if a.Hierarchy != "ml_pipeline" {
		t.Errorf("hierarchy = %q, want ml_pipeline", a.Hierarchy)
	}

	cancel()
	select {
	case <-done:
		if runErr != nil {
			t.Fatalf("serve returned %v after its context ended, want nil\n%s", runErr, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return after its context ended")
	}
	if !strings.Contains(stderr.String(), "arbor shutting down") {
		t.Errorf("no shutdown logged:\n%s", stderr.String())
	}
	if stdout.String() != "" {
		t.Errorf("serve wrote %q to stdout, want nothing", stdout.String())
	}

	// The data directory is unlocked and the artifact is kept.
	in := openTestMain(t, testMainConfig(dir))
	in.c.must(http.StatusOK, http.MethodGet, testAPI+"/"+a.ID, nil, nil)
}
