//go:build unix

package lockfile

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// holderEnv, when set in a test binary's environment, makes
// TestHolderProcess lock the directory it names and wait to be killed.
const holderEnv = "ARBOR_LOCKFILE_HOLDER"

// pidIn returns the pid written in dir's lock file.
func pidIn(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "arbor.lock"))
	if err != nil {
		t.Fatalf("read lock file: %v", err)
	}
	return string(b)
}

// wantLocked fails the test unless err is the refusal of a lock on dir
// held by pid: it wraps ErrLocked and names both.
func wantLocked(t *testing.T, err error, dir string, pid int) {
	t.Helper()
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("Acquire(%s) = %v, want an error wrapping ErrLocked", dir, err)
	}
	if msg := err.Error(); !strings.Contains(msg, dir) || !strings.Contains(msg, "(pid "+strconv.Itoa(pid)+")") {
		t.Fatalf("Acquire(%s) = %q, want it to name %s and pid %d", dir, msg, dir, pid)
	}
}

func TestAcquire(t *testing.T) {
	tests := []struct {
		name string
		dir  string // under a new temporary directory
		// prepare, if set, prepares dir before Acquire.
		prepare func(t *testing.T, dir string)
	}{
		{name: "new directory", dir: "data"},
		{name: "nested new directories", dir: "data/a/b"},
		{name: "existing empty directory", dir: "data", prepare: func(t *testing.T, dir string) {
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "lock file left by a dead process, pid longer than ours", dir: "data", prepare: func(t *testing.T, dir string) {
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			stale := []byte("123456789012345678901234567890\n")
			if err := os.WriteFile(filepath.Join(dir, "arbor.lock"), stale, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), filepath.FromSlash(tt.dir))
			if tt.prepare != nil {
				tt.prepare(t, dir)
			}
			l, err := Acquire(dir)
			if err != nil {
				t.Fatalf("Acquire(%s): %v", dir, err)
			}
			t.Cleanup(func() { l.Release() })
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				t.Fatalf("after Acquire, %s is not a directory: %v", dir, err)
			}
			if got, want := pidIn(t, dir), strconv.Itoa(os.Getpid())+"\n"; got != want {
				t.Fatalf("lock file holds %q, want %q", got, want)
			}
		})
	}
}

// TestAcquireTwice takes the lock twice in one process: flock locks belong
// to an open file, so the second Acquire is refused as another process's
// would be.
func TestAcquireTwice(t *testing.T) {
	dir := t.TempDir()
	first, err := Acquire(dir)
	if err != nil {
		t.Fatalf("first Acquire: %v", err)
	}
	defer first.Release()

	start := time.Now()
	second, err := Acquire(dir)
	if second != nil {
		t.Errorf("second Acquire returned a lock, want nil")
	}
	wantLocked(t, err, dir, os.Getpid())
	// Acquire never waits for the holder.
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("second Acquire took %v, want an immediate refusal", d)
	}
	// A refusal leaves the holder's pid in place.
	if got, want := pidIn(t, dir), strconv.Itoa(os.Getpid())+"\n"; got != want {
		t.Fatalf("lock file holds %q after a refusal, want %q", got, want)
	}
}

func TestReleaseThenAcquire(t *testing.T) {
	dir := t.TempDir()
	for round := range 3 {
		l, err := Acquire(dir)
		if err != nil {
			t.Fatalf("round %d: Acquire: %v", round, err)
		}
		if err := l.Release(); err != nil {
			t.Fatalf("round %d: Release: %v", round, err)
		}
	}
}

// TestReleaseTwice checks Release's nil cases: a nil lock, and a lock
// already released, which must not unlock a lock taken since.
func TestReleaseTwice(t *testing.T) {
	var none *Lock
	if err := none.Release(); err != nil {
		t.Fatalf("Release of a nil lock: %v", err)
	}

	dir := t.TempDir()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatalf("Release: %v", err)
	}
	again, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	defer again.Release()
	if err := l.Release(); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	_, err = Acquire(dir)
	wantLocked(t, err, dir, os.Getpid())
}

func TestAcquireFails(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, parent string) string // returns the dir to lock
	}{
		{"dir is a file", func(t *testing.T, parent string) string {
			dir := filepath.Join(parent, "file")
			if err := os.WriteFile(dir, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return dir
		}},
		{"lock file is a directory", func(t *testing.T, parent string) string {
			if err := os.Mkdir(filepath.Join(parent, "arbor.lock"), 0o755); err != nil {
				t.Fatal(err)
			}
			return parent
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.prepare(t, t.TempDir())
			l, err := Acquire(dir)
			if err == nil {
				l.Release()
				t.Fatalf("Acquire(%s) succeeded, want an error", dir)
			}
			if errors.Is(err, ErrLocked) {
				t.Fatalf("Acquire(%s) = %v, want an error that is not ErrLocked", dir, err)
			}
		})
	}
}

// TestMain runs the tests, or, in a child process started by
// TestLockHeldByAnotherProcess, holds the lock: it locks the directory
// named by holderEnv, says so on stdout and waits to be killed.
func TestMain(m *testing.M) {
	dir := os.Getenv(holderEnv)
	if dir == "" {
		os.Exit(m.Run())
	}
	if _, err := Acquire(dir); err != nil {
		os.Stdout.WriteString("error " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Stdout.WriteString("locked\n")
	time.Sleep(time.Minute) // killed long before
	os.Exit(2)
}

// TestLockHeldByAnotherProcess takes the lock in a child process: the
// parent is refused, naming the child's pid, until the child dies; then
// the lock is free without anyone releasing it.
func TestLockHeldByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holderEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start holder: %v", err)
	}
	exited := false
	defer func() {
		if !exited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()

	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		lines <- line
	}()
	select {
	case line := <-lines:
		if line != "locked\n" {
			t.Fatalf("holder said %q, want \"locked\"", line)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("holder did not take the lock within 30s")
	}

	_, err = Acquire(dir)
	wantLocked(t, err, dir, cmd.Process.Pid)

	// Kill the holder without letting it release anything.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("kill holder: %v", err)
	}
	cmd.Wait()
	exited = true

	l, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after the holder died: %v", err)
	}
	defer l.Release()
	if got, want := pidIn(t, dir), strconv.Itoa(os.Getpid())+"\n"; got != want {
		t.Fatalf("lock file holds %q, want our pid %q", got, want)
	}
}
