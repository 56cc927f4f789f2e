package main

import (
	"encoding/json"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The container files cannot run here (no Docker engine): this checks that
// what they tell arbor serve is what arbor serve takes. The image's ENV
// lines are the environment of every container; compose's arbor services
// add their command lines as flags.
func TestContainerFlags(t *testing.T) {
	dockerfile, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	// ENV NAME=value \ continued lines, up to the next instruction.
	inEnv := false
	for _, line := range strings.Split(string(dockerfile), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "ENV ") {
			inEnv, line = true, strings.TrimPrefix(line, "ENV ")
		}
		if !inEnv {
			continue
		}
		continued := strings.HasSuffix(line, "\\")
		for _, kv := range strings.Fields(strings.TrimSuffix(line, "\\")) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || !strings.HasPrefix(k, "ARBOR_") {
				t.Fatalf("Dockerfile ENV %q: want ARBOR_NAME=value", kv)
			}
			env[k] = v
		}
		inEnv = continued
	}
	if !regexp.MustCompile(`ENTRYPOINT \["/arbor", "serve"\]`).Match(dockerfile) {
		t.Fatal(`the image's ENTRYPOINT is not ["/arbor", "serve"]`)
	}
	if len(env) == 0 {
		t.Fatal("no ARBOR_ variables in the Dockerfile")
	}
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	image, err := parseServeFlags(nil, getenv, io.Discard)
	if err != nil {
		t.Fatalf("the image's environment: %v", err)
	}
	if image.Addr != ":8000" || image.DataDir != "/data" || image.APIKeysFile == "" {
		t.Errorf("the image serves %+v", image)
	}

	compose, err := os.ReadFile("../../compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	commands := regexp.MustCompile(`(?m)^  arbor\d+:\n(?:    .*\n)*?    command: (\[.*\])$`).FindAllSubmatch(compose, -1)
	if len(commands) != 2 {
		t.Fatalf("%d arbor services with a command in compose.yaml, want 2", len(commands))
	}
	for _, m := range commands {
		var args []string
		if err := json.Unmarshal(m[1], &args); err != nil {
			t.Fatalf("command %s: %v", m[1], err)
		}
		withPassword := func(k string) (string, bool) {
			if k == "ARBOR_NATS_PASSWORD" {
				return "from compose", true
			}
			return getenv(k)
		}
		cfg, err := parseServeFlags(args, withPassword, io.Discard)
		if err != nil {
			t.Fatalf("compose's arbor %q: %v", args, err)
		}
		if cfg.Replicas != 3 || cfg.NATSURL == "" || cfg.NATSUser == "" || len(cfg.Hierarchies) != 2 {
			t.Errorf("compose's arbor serves %+v", cfg)
		}
	}
}
